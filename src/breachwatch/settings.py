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
    secret: bool = False  # never printed by `breachwatch settings`


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "./workspace", "Workspace directory (also --workspace)."),
    Setting(
        "key_file",
        "",
        "Encryption key file; empty means ~/.config/breachwatch/keys/<workspace id>.key. "
        "Must lie outside the workspace.",
    ),
    Setting("key", "", "Encryption key itself (hex); when set, no key file is read.", secret=True),
    Setting(
        "memory_limit",
        "4GB",
        "DuckDB memory limit; an ingest peaks at about this plus 1 GB (Arrow chunks).",
    ),
    Setting("threads", 0, "DuckDB threads; 0 = one per core."),
    Setting(
        "storage_compression",
        "zstd",
        "DuckDB column compression on write: zstd (fast), auto (smallest, ~25% slower ingest), "
        "uncompressed.",
    ),
    Setting(
        "spark_master",
        "local[2]",
        "Spark master of `--engine spark` (also --spark-master): local[N], spark://HOST:PORT, "
        "yarn or k8s://URL.",
    ),
    Setting("spark_driver_memory", "4g", "JVM heap of the Spark driver (holds what is shipped)."),
    Setting(
        "spark_shuffle_partitions",
        8,
        "Partitions of each Spark shuffle; about 2-3 per executor core on a cluster.",
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
    Setting(
        "state_url",
        "",
        "SQLAlchemy URL of the operational state (partners, audit log); empty means "
        "sqlite:///<workspace>/state.db.",
    ),
    Setting(
        "lookup_key_file",
        "",
        "Lookup (OPRF) key file; empty means ~/.config/breachwatch/keys/<workspace id>.lookup.key. "
        "Must lie outside the workspace.",
    ),
    Setting(
        "lookup_prefix_bits",
        20,
        "Bits of the identifier hash a partner sends to pick a bucket (see docs/privacy.md).",
    ),
    Setting("redis_url", "", "Redis URL for shared rate limits; empty keeps them in memory."),
    Setting("selfcheck_limit_ip", "10/minute;100/day", "Self-check requests per client IP."),
    Setting(
        "selfcheck_limit_identifier",
        "3/day",
        "Self-checks per identifier (caps the messages one address or phone can be sent).",
    ),
    Setting("selfcheck_limit_global", "1000/second", "Self-check requests for the whole service."),
    Setting("partner_max_batch", 5000, "Most blinded elements in one partner request."),
    Setting(
        "trusted_proxies",
        "",
        "Comma-separated proxy addresses whose X-Forwarded-For gives the client IP.",
    ),
    Setting(
        "organisation",
        "France Travail (synthetic demo)",
        "Name of the breached organisation, used in messages to people.",
    ),
    Setting("dpo_contact", "dpo@example.org", "Contact of the data protection officer."),
    # Regulator report (GDPR art. 33(3)(b)): who notifies, whom to contact, which authority.
    Setting(
        "controller_address",
        "1 avenue de l'Exemple, 75000 Paris (synthetic demo)",
        "Postal address of the controller, in the regulator report.",
    ),
    Setting("dpo_name", "Camille Exemple (synthetic demo)", "Name of the data protection officer."),
    Setting(
        "contact_point",
        "0 800 000 000, fuite@example.org (synthetic demo)",
        "Where people and the regulator get more information (report, public statement).",
    ),
    Setting("supervisory_authority", "CNIL", "Supervisory authority the breach is notified to."),
    Setting(
        "selfcheck_url",
        "https://verification.example.org/",
        "Public address of the self-check page, given in the public statement.",
    ),
    Setting(
        "report_category_column",
        "",
        "Registry column holding the category of each person; empty means categorie/category.",
    ),
    Setting("ops_login_limit_ip", "20/minute;200/day", "Dashboard sign-in attempts per client IP."),
    Setting(
        "session_cookie_secure",
        True,
        "Dashboard session cookie only over HTTPS (browsers treat http://127.0.0.1 as secure).",
    ),
    Setting("smtp_host", "", "SMTP server for e-mail to people; empty disables e-mail."),
    Setting("smtp_port", 25, "SMTP server port (587 for submission with smtp_starttls)."),
    Setting(
        "smtp_from",
        "breachwatch@example.org",
        "Sender of e-mail (From and envelope); its domain ends every Message-ID.",
    ),
    Setting("smtp_starttls", False, "Use STARTTLS on the SMTP connection (certificate checked)."),
    Setting(
        "smtp_ca_file",
        "",
        "PEM CA bundle that must have issued the SMTP server's certificate; empty: system CAs.",
    ),
    Setting(
        "smtp_username",
        "",
        "SMTP login; empty means none. Needs smtp_starttls unless the server is on this host.",
    ),
    Setting("smtp_password", "", "SMTP password (with smtp_username).", secret=True),
    Setting("smtp_timeout", 10, "Seconds to wait for the SMTP server before a temporary failure."),
    Setting("sms_url", "", "SMS provider API endpoint (https); empty disables SMS."),
    Setting("sms_api_key", "", "SMS provider API key, sent as a Bearer token.", secret=True),
    Setting(
        "sms_sender_id",
        "BreachWatch",
        "SMS sender shown to people: up to 11 letters and digits, or a phone number.",
    ),
    Setting("sms_timeout", 10, "Seconds to wait for the SMS provider before a temporary failure."),
    Setting(
        "notify_key_file",
        "",
        "Notify key file (seals the outbox, makes authenticity codes); empty means "
        "~/.config/breachwatch/keys/<workspace id>.notify.key. Must lie outside the workspace.",
    ),
    Setting("notify_default_language", "fr", "Language of notices when none is known: fr or en."),
    Setting(
        "notify_language_column",
        "",
        "Registry column holding each person's language (fr/en...); empty: the default language.",
    ),
    Setting(
        "notify_leaked_contacts",
        False,
        "Also reach people through contacts found only in the leak (registry ones first).",
    ),
    Setting(
        "notify_rate",
        "",
        "Send rate per channel for `notify run`, e.g. email=200/s,sms=50/s; empty: no limit.",
    ),
    Setting(
        "notify_lease_seconds", 60, "A claimed message whose worker is silent this long is resent."
    ),
    Setting("notify_max_attempts", 8, "Temporary failures before a channel counts as failed."),
    Setting("notify_retry_seconds", 30, "First retry delay; doubles each attempt (with jitter)."),
    Setting("notify_retry_max_seconds", 3600, "Longest delay between two attempts."),
    Setting("notify_batch", 100, "Messages a worker claims at once."),
    Setting("notify_smtp_connections", 4, "SMTP connections each worker keeps open."),
    Setting(
        "notify_bounce_dir",
        "",
        "Folder of bounce messages (RFC 3464 DSNs, one per file) read by `notify run`.",
    ),
    Setting(
        "notify_receipt_token",
        "",
        "Token the SMS provider sends (Bearer) with delivery receipts; empty disables them.",
        secret=True,
    ),
    Setting("dkim_key_file", "", "PEM private key to DKIM-sign e-mail; empty: no signature."),
    Setting("dkim_selector", "breachwatch", "DKIM selector (DNS: <selector>._domainkey.<domain>)."),
    Setting(
        "phishing_config",
        "",
        "TOML file overriding the phishing check's official domains, numbers, brands; empty "
        "means the shipped configuration.",
    ),
    Setting("phishing_limit_ip", "60/minute", "Message checks, and reports, per client IP."),
    Setting(
        "operator_api_token",
        "",
        "Bearer token of the operator API (phishing waves); empty disables those routes (404).",
        secret=True,
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
