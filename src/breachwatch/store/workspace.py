"""The workspace: an encrypted DuckDB database plus settings, with the key kept elsewhere.

The database file is encrypted by DuckDB (AES-GCM); the writable crypto module comes from the
httpfs extension, which we load from the ``duckdb-ext-httpfs`` wheel because extension downloads
are impossible offline (docs/decisions/0002-encryption-at-rest.md). Spill files are encrypted too.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import sysconfig
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb

from breachwatch.errors import ConfigError, KeyError_, WorkspaceError
from breachwatch.settings import load_settings
from breachwatch.store.schema import create_schema

DB_FILE = "breachwatch.duckdb"
CATALOG = "ws"
SETTINGS_FILE = "breachwatch.toml"


@dataclass
class Workspace:
    home: Path
    settings: dict[str, Any]
    con: duckdb.DuckDBPyConnection
    temp: Path  # this connection's spill directory (``_fresh_temp_dir``)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.temp, ignore_errors=True)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same database, for a second thread, on the workspace's
        catalog like ``con``."""
        cursor = self.con.cursor()
        cursor.execute(f"USE {CATALOG}")
        return cursor

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def httpfs_extension_path() -> str:
    pattern = os.path.join(
        sysconfig.get_paths()["purelib"],
        "duckdb_ext",
        "extensions",
        f"v{duckdb.__version__}",
        "*",
        "httpfs.duckdb_extension",
    )
    found = glob.glob(pattern)
    if not found:
        raise WorkspaceError(
            f"the httpfs extension for DuckDB {duckdb.__version__} is missing; "
            "install the duckdb-ext-httpfs package matching DuckDB (pip install -e .)"
        )
    return found[0]


def workspace_id(home: Path) -> str:
    marker = home / ".workspace-id"
    if not marker.is_file():
        raise WorkspaceError(f"{home} is not a breachwatch workspace; run `breachwatch init` first")
    return marker.read_text(encoding="ascii").strip()


def default_key_file(ws_id: str, kind: str = "") -> Path:
    """``~/.config/breachwatch/keys/<workspace id>[.<kind>].key``."""
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    suffix = f".{kind}" if kind else ""
    return config_home / "breachwatch" / "keys" / f"{ws_id}{suffix}.key"


def key_file(
    settings: dict[str, Any], setting: str, kind: str = "", error: type[Exception] = ConfigError
) -> Path:
    """The key file named by ``setting``, else the default for ``kind``; refused (``error``)
    when it lies inside the workspace: keys are kept apart from the data they protect."""
    home = Path(settings["home"])
    chosen = settings.get(setting)
    path = Path(chosen) if chosen else default_key_file(workspace_id(home), kind)
    if path.resolve().is_relative_to(home.resolve()):
        label = f"{kind} key file" if kind else "key file"
        raise error(
            f"{label} {path} lies inside the workspace {home}: keys must be kept outside the "
            f"data directory ({setting})"
        )
    return path


def _key_file(home: Path, settings: dict[str, Any]) -> Path:
    return key_file({**settings, "home": str(home)}, "key_file", error=KeyError_)


def resolve_key(home: Path, settings: dict[str, Any]) -> str:
    if settings["key"]:
        return str(settings["key"])
    path = _key_file(home, settings)
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise KeyError_(
            f"no encryption key for workspace {home}: expected key file {path} "
            "(or set BREACHWATCH_KEY / BREACHWATCH_KEY_FILE)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyError_(f"cannot read key file {path}: {exc}") from None
    if not key:
        raise KeyError_(f"key file {path} is empty")
    return key


def init_workspace(home: Path | None = None) -> Path:
    """Create the workspace directory, its key (outside it) and the encrypted database."""
    settings = load_settings(home)
    root = Path(settings["home"])
    root.mkdir(parents=True, exist_ok=True)
    marker = root / ".workspace-id"
    if not marker.exists():
        marker.write_text(uuid.uuid4().hex + "\n", encoding="ascii")
    if not (root / SETTINGS_FILE).exists():
        (root / SETTINGS_FILE).write_text(_SETTINGS_TEMPLATE, encoding="utf-8")
    if not settings["key"]:
        _ensure_key_file(_key_file(root, settings))
    with open_workspace(root):
        pass
    return root


def _ensure_key_file(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def open_workspace(home: Path | None = None, *, read_only: bool = False) -> Workspace:
    """Opens the encrypted workspace; ``read_only`` lets several readers (the dashboard's
    person look-ups) share it, and fails with WorkspaceError while a writer holds it."""
    settings = load_settings(home)
    root = Path(settings["home"])
    workspace_id(root)
    key = resolve_key(root, settings)
    con, temp = _connect(root, settings)
    mode = ", READ_ONLY" if read_only else ""
    try:
        secret = _sql_quote(key)
        con.execute(f"ATTACH '{root / DB_FILE}' AS {CATALOG} (ENCRYPTION_KEY '{secret}'{mode})")
    except duckdb.IOException as exc:
        con.close()
        shutil.rmtree(temp, ignore_errors=True)
        if "lock" in str(exc).lower():
            raise WorkspaceError(
                f"the workspace {root} is in use by another breachwatch process (an ingest or "
                "linkage run); try again when it has finished"
            ) from None
        raise KeyError_(f"cannot open the workspace database {root / DB_FILE}: {exc}") from None
    except duckdb.Error as exc:
        con.close()
        shutil.rmtree(temp, ignore_errors=True)
        raise KeyError_(f"cannot open the workspace database {root / DB_FILE}: {exc}") from None
    con.execute(f"USE {CATALOG}")
    if not read_only:
        create_schema(con, str(settings["storage_compression"]))
    return Workspace(root, settings, con, temp)


def _connect(root: Path, settings: dict[str, Any]) -> tuple[duckdb.DuckDBPyConnection, Path]:
    compression = str(settings["storage_compression"])
    if compression not in ("zstd", "auto", "uncompressed"):
        raise ConfigError(
            f"storage_compression {compression!r}: expected zstd, auto or uncompressed"
        )
    config: dict[str, Any] = {"memory_limit": settings["memory_limit"]}
    if int(settings["threads"]) > 0:
        config["threads"] = int(settings["threads"])
    try:
        con = duckdb.connect(":memory:", config=config)
    except duckdb.Error as exc:
        raise ConfigError(f"invalid memory_limit or threads setting: {exc}") from None
    con.execute(f"LOAD '{httpfs_extension_path()}'")
    temp = _fresh_temp_dir(root)
    con.execute(f"SET temp_directory = '{_sql_quote(str(temp))}'")
    con.execute("SET temp_file_encryption = true")
    con.execute(f"SET force_compression = '{compression}'")
    # Row order of stored tables carries no meaning (record_no does): let inserts run freely.
    con.execute("SET preserve_insertion_order = false")
    return con, temp


def _fresh_temp_dir(root: Path) -> Path:
    """A spill directory of this connection's own, ``tmp/<pid>-<random>``. Each connection
    spills apart: read-only openers run side by side, and DuckDB refuses to start over temp
    files it did not write. Directories of processes that no longer run (a killed ``link``)
    are removed, as are loose spill files of versions that spilled into ``tmp/`` itself."""
    base = root / "tmp"
    base.mkdir(exist_ok=True)
    for entry in base.iterdir():
        pid = entry.name.split("-", 1)[0]
        if entry.is_dir() and pid.isdigit() and "-" in entry.name:
            if int(pid) == os.getpid() or _running(int(pid)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith("duckdb_temp_"):
            entry.unlink(missing_ok=True)
    own = base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    own.mkdir(mode=0o700)
    return own


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def uid_ranges(
    con: duckdb.DuckDBPyConnection, uids_sql: str, size: int, params: dict[str, Any] | None = None
) -> list[tuple[int, int]]:
    """(first, last) uid of each run of ``size`` consecutive values of ``uids_sql`` (a query of
    one column of distinct uids), in order: ranges of the values themselves, since uids of
    different source files lie far apart (source_id << 40)."""
    rows = con.execute(
        f"""SELECT min(uid), max(uid)
            FROM (SELECT uid, row_number() OVER (ORDER BY uid) AS n FROM ({uids_sql}) t(uid))
            GROUP BY (n - 1) // $size ORDER BY 1""",
        {**(params or {}), "size": size},
    ).fetchall()
    return [(int(lo), int(hi)) for lo, hi in rows]


def table_exists(ws: Workspace, name: str) -> bool:
    """Whether the workspace database holds a table ``name`` (optional analysis tables)."""
    row = ws.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = 'ws'",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


_SETTINGS_TEMPLATE = """\
# breachwatch workspace settings. Environment variables BREACHWATCH_<NAME> override these.
# `breachwatch settings` lists every setting with its default and help.
[settings]
# memory_limit = "6GB"
# default_region = "FR"
"""
