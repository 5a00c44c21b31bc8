"""What the phishing check knows about the world: official domains, numbers, brands, lists.

Everything lives in ``config.toml`` shipped beside this module; a deployment overrides any key with
its own TOML file (a key given replaces the shipped value, lists included). The reasons the check
can give, with their weights and texts, live in ``reasons.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from breachwatch.errors import ConfigError

SEVERITIES = ("trust", "info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Brand:
    """An organisation a message may claim to come from, and the domains that are really its."""

    id: str
    name: str
    names: tuple[str, ...]
    domains: tuple[str, ...]
    phone_numbers: tuple[str, ...] = ()
    sms_senders: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhishingConfig:
    organisation: Brand
    brands: tuple[Brand, ...]
    trusted_suffixes: tuple[str, ...]
    lookalike_tlds: tuple[str, ...]
    shorteners: tuple[str, ...]
    messaging: tuple[str, ...]
    suspicious_tlds: tuple[str, ...]
    trusted_authserv_ids: tuple[str, ...]
    suspicious_at: int
    phishing_at: int

    @property
    def all_brands(self) -> tuple[Brand, ...]:
        """The organisation first, then the other impersonated brands."""
        return (self.organisation, *self.brands)


@dataclass(frozen=True)
class ReasonSpec:
    code: str
    weight: int
    severity: str
    fr: str
    en: str


def load_config(path: Path | None = None) -> PhishingConfig:
    """The shipped configuration, with the keys of ``path`` (a TOML file) replacing its own."""
    data = _parse(_shipped("config.toml"), "breachwatch/phishing/config.toml")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the phishing configuration ({exc})") from None
        data = _merge(data, _parse(text, str(path)))
    return _build(data, str(path or "breachwatch/phishing/config.toml"))


def load_reasons() -> dict[str, ReasonSpec]:
    where = "breachwatch/phishing/reasons.toml"
    specs = {}
    for code, item in _parse(_shipped("reasons.toml"), where).items():
        try:
            spec = ReasonSpec(code, int(item["weight"]), item["severity"], item["fr"], item["en"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: reason {code!r} is incomplete ({exc})") from None
        if spec.severity not in SEVERITIES:
            raise ConfigError(f"{where}: reason {code!r}: unknown severity {spec.severity!r}")
        specs[code] = spec
    return specs


def _shipped(name: str) -> str:
    return resources.files("breachwatch.phishing").joinpath(name).read_text(encoding="utf-8")


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _strings(items: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(i.strip().lower() for i in items if i.strip())


def _brand(item: dict[str, Any], where: str) -> Brand:
    try:
        return Brand(
            id=str(item.get("id", "organisation")),
            name=str(item["name"]),
            names=_strings(item.get("names", item.get("aliases", [])), where, "names"),
            domains=_strings(item["domains"], where, "domains"),
            phone_numbers=tuple(
                "".join(ch for ch in n if ch.isdigit())
                for n in _strings(item.get("phone_numbers", []), where, "phone_numbers")
            ),
            sms_senders=_strings(item.get("sms_senders", []), where, "sms_senders"),
        )
    except KeyError as exc:
        raise ConfigError(f"{where}: a brand lacks {exc}") from None


def _build(data: dict[str, Any], where: str) -> PhishingConfig:
    links, email, scoring = data.get("links", {}), data.get("email", {}), data.get("scoring", {})
    organisation = _brand(data.get("organisation", {}), where)
    if not organisation.domains:
        raise ConfigError(f"{where}: [organisation] needs at least one domain")
    config = PhishingConfig(
        organisation=organisation,
        brands=tuple(_brand(item, where) for item in data.get("brand", [])),
        trusted_suffixes=_strings(links.get("trusted_suffixes", []), where, "trusted_suffixes"),
        lookalike_tlds=_strings(links.get("lookalike_tlds", []), where, "lookalike_tlds"),
        shorteners=_strings(links.get("shorteners", []), where, "shorteners"),
        messaging=_strings(links.get("messaging", []), where, "messaging"),
        suspicious_tlds=_strings(links.get("suspicious_tlds", []), where, "suspicious_tlds"),
        trusted_authserv_ids=_strings(
            email.get("trusted_authserv_ids", []), where, "trusted_authserv_ids"
        ),
        suspicious_at=int(scoring.get("suspicious_at", 30)),
        phishing_at=int(scoring.get("phishing_at", 60)),
    )
    if not 0 < config.suspicious_at <= config.phishing_at <= 100:
        raise ConfigError(f"{where}: expected 0 < suspicious_at <= phishing_at <= 100")
    return config
