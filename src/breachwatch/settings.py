"""Settings in one declarative table: a default and a help line each.

Precedence: defaults < the workspace's ``breachwatch.toml`` < environment variables
(``BREACHWATCH_<NAME>``, upper-cased). ``docs/settings.md`` lists them all; a test fails when one
is undocumented.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breachwatch.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "./workspace", "Workspace directory (also --workspace)."),
    Setting(
        "key_file",
        "",
        "Encryption key file; empty means ~/.config/breachwatch/keys/<workspace id>.key. "
        "Must lie outside the workspace.",
    ),
    Setting("key", "", "Encryption key itself (hex); when set, no key file is read."),
    Setting(
        "memory_limit",
        "4GB",
        "DuckDB memory limit; the process peaks at about this plus 2-3 GB while ingesting.",
    ),
    Setting("threads", 0, "DuckDB threads; 0 = one per core."),
    Setting(
        "storage_compression",
        "zstd",
        "DuckDB column compression on write: zstd (fast), auto (smallest, ~25% slower ingest), "
        "uncompressed.",
    ),
    Setting("default_region", "FR", "Region for phone numbers written without a country code."),
    Setting("max_line_bytes", 16 * 1024 * 1024, "A line longer than this is quarantined."),
    Setting(
        "max_compression_ratio",
        200,
        "Refuse a .gz/.zip member that expands more than this many times (zip bombs).",
    ),
    Setting(
        "max_uncompressed_bytes",
        500 * 1024**3,
        "Refuse a compressed input that expands beyond this many bytes.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if isinstance(setting.default, bool):
        if isinstance(value, bool):
            return value
        return str(value).lower() in {"1", "true", "yes", "on"}
    if isinstance(setting.default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{origin}: setting '{setting.name}' must be an integer, got {value!r}"
            ) from None
    return str(value)


def load_settings(home: Path | None = None) -> dict[str, Any]:
    """Resolve every setting; ``home`` (from --workspace) overrides the environment's."""
    values = {s.name: s.default for s in SETTINGS}
    env_home = os.environ.get("BREACHWATCH_HOME")
    workspace = Path(home or env_home or values["home"])
    toml_path = workspace / "breachwatch.toml"
    if toml_path.is_file():
        values.update(_read_toml(toml_path))
    for setting in SETTINGS:
        env_value = os.environ.get(f"BREACHWATCH_{setting.name.upper()}")
        if env_value is not None:
            values[setting.name] = _coerce(
                setting, env_value, f"BREACHWATCH_{setting.name.upper()}"
            )
    values["home"] = str(workspace)
    return values


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from None
    section = data.get("settings", {})
    unknown = sorted(set(section) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return {k: _coerce(_BY_NAME[k], v, str(path)) for k, v in section.items()}
