"""Is this host one of ours, a look-alike of ours, or a trick? Offline, precomputed once.

Registrable domains follow the Public Suffix List (``publicsuffixlist`` ships a snapshot and never
fetches one): ``francetravail.fr.secure-login.com`` belongs to ``secure-login.com``. Look-alikes
come from dnstwist's ``Fuzzer``, which only permutes strings (its DNS, HTTP and WHOIS parts are
never called), computed once per configuration and kept as a set of names.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from functools import cache

import dnstwist
import idna
from confusable_homoglyphs import confusables
from publicsuffixlist import PublicSuffixList

from breachwatch.phishing.config import Brand, PhishingConfig
from breachwatch.phishing.text import fold

# Below this length a brand's name has too many innocent permutations ("dhl" -> "dh1", "dhi").
MIN_LOOKALIKE_NAME = 5
# A brand word shorter than this is only an added word when it stands alone between hyphens or
# dots ("ameli-remboursement"): inside a longer word it is usually innocent ("camelia").
MIN_EMBEDDED_TOKEN = 7


class _AsciiFuzzer(dnstwist.Fuzzer):  # type: ignore[misc]
    """dnstwist's permutations with its ASCII glyphs only (rn/m, l/1, 0/o...).

    Non-ASCII look-alikes are caught more completely by ``skeleton`` (every Unicode confusable,
    not dnstwist's sample of them), and leaving them out makes building the set 10x faster.
    """

    glyphs_idn_by_tld: dict[str, dict[str, tuple[str, ...]]] = {}
    glyphs_unicode: dict[str, tuple[str, ...]] = {}


@cache
def psl() -> PublicSuffixList:
    return PublicSuffixList()


@cache
def _skeleton_table() -> dict[int, str]:
    """Each non-ASCII character that looks like an ASCII letter or digit, mapped to it."""
    table: dict[int, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        for glyph in glyphs:
            look = glyph["c"]
            if len(char) == 1 and not char.isascii() and len(look) == 1 and look.isascii():
                table.setdefault(ord(char), look.lower())
            if len(look) == 1 and not look.isascii() and len(char) == 1 and char.isascii():
                table.setdefault(ord(look), char.lower())
    for ascii_char, glyphs in dnstwist.Fuzzer.glyphs_unicode.items():
        for glyph in glyphs:
            if len(glyph) == 1 and len(ascii_char) == 1:
                table.setdefault(ord(glyph), ascii_char)
    return {k: v for k, v in table.items() if v.isalnum() or v in "-."}


def skeleton(host: str) -> str:
    """What a host looks like to a reader: accents dropped, look-alike characters made ASCII."""
    folded = fold(host)
    if folded.isascii():
        return folded
    decomposed = "".join(
        unicodedata.normalize("NFKD", c)[:1] if not c.isascii() else c for c in folded
    )
    return decomposed.translate(_skeleton_table()).lower()


def to_unicode(host: str) -> str:
    """``xn--`` labels decoded; a label that does not decode stays as it is."""
    if "xn--" not in host:
        return host
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            label = _decode_label(label)
        labels.append(label)
    return ".".join(labels)


def _decode_label(label: str) -> str:
    try:
        return str(idna.decode(label))
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def to_ascii(host: str) -> str:
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return ".".join(_punycode_label(label) for label in host.split("."))


def _punycode_label(label: str) -> str:
    if label.isascii():
        return label
    return "xn--" + label.encode("punycode").decode("ascii")


def is_ip(host: str) -> bool:
    candidate = host.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        # 0x7f000001 and 2130706433 are 127.0.0.1 too: browsers accept them.
        if "." in candidate:
            return False
        return (candidate.isdigit() and len(candidate) >= 8) or candidate.startswith("0x")
    return True


def registrable(host: str) -> str | None:
    """``secure-login.com`` for ``francetravail.fr.secure-login.com``; an unlisted top-level
    domain (``.example``, ``.test``, a new one) counts as a suffix of its own."""
    return psl().privatesuffix(host, accept_unknown=True)


def known_suffix(host: str) -> bool:
    return psl().publicsuffix(host, accept_unknown=False) is not None


@dataclass(frozen=True)
class Finding:
    code: str
    target: str


@dataclass(frozen=True)
class HostReport:
    host: str
    registrable: str | None
    owner: Brand | None
    findings: tuple[Finding, ...]


class DomainAnalyzer:
    """Built once per configuration: every set and table a host is compared with."""

    def __init__(self, config: PhishingConfig) -> None:
        self.config = config
        self.owner: dict[str, Brand] = {d: b for b in config.all_brands for d in b.domains}
        self.official = set(config.organisation.domains)
        self.shorteners = set(config.shorteners)
        self.messaging = set(config.messaging)
        self.suspicious_tlds = set(config.suspicious_tlds)
        self.lookalike_tlds = set(config.lookalike_tlds)
        self.official_names = self._official_names()
        self.lookalike_hosts: dict[str, str] = {}
        self.lookalikes = self._lookalikes()
        self.tokens = self._tokens()

    def _official_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for domain in self.owner:
            suffix = psl().publicsuffix(domain) or ""
            names.setdefault(domain[: -len(suffix) - 1], domain)
        return names

    def _lookalikes(self) -> dict[str, str]:
        """Permuted name (without its suffix) -> the official domain it imitates."""
        found: dict[str, str] = {}
        for domain in self.owner:
            if len(domain.split(".")[0]) < MIN_LOOKALIKE_NAME:
                continue
            fuzzer = _AsciiFuzzer(domain)
            fuzzer.generate()
            for permutation in fuzzer.permutations():
                if permutation["fuzzer"] == "subdomain":
                    # "france.travail.fr" is a look-alike host, but "travail" is no look-alike
                    # name: compare whole hosts for these.
                    self.lookalike_hosts[permutation["domain"]] = domain
                    continue
                name = _name_of(to_unicode(permutation["domain"]))
                if name and name not in self.official_names:
                    found.setdefault(skeleton(name), domain)
        return found

    def _tokens(self) -> dict[str, str]:
        """Brand words a scammer puts in a domain of their own -> the domain they imitate."""
        tokens: dict[str, str] = {}
        for brand in self.config.all_brands:
            home = brand.domains[0]
            for name in [*(_name_of(d) or "" for d in brand.domains), *brand.names]:
                for token in {name.replace(" ", ""), name.replace(" ", "-")}:
                    if token:
                        tokens.setdefault(token, home)
                        tokens.setdefault(token.replace("-", ""), home)
        return tokens

    def analyse(self, host: str) -> HostReport:
        host = host.strip(".").lower()
        if is_ip(host):
            return HostReport(host, None, None, (Finding("link_raw_ip", host),))
        shown = to_unicode(host)
        base = registrable(to_ascii(shown))
        if base is None:
            return HostReport(host, None, None, ())
        owner = self.owner.get(base) or self._trusted(base)
        if owner is not None:
            return self._owned(host, base, owner)
        return HostReport(host, base, None, tuple(self._findings(host, shown, base)))

    def _trusted(self, base: str) -> Brand | None:
        for suffix in self.config.trusted_suffixes:
            if base.endswith("." + suffix):
                return Brand("trusted", base, (), (base,))
        return None

    def _owned(self, host: str, base: str, owner: Brand) -> HostReport:
        findings = (Finding("domain_official", owner.name),) if base in self.official else ()
        return HostReport(host, base, owner, findings)

    def _findings(self, host: str, shown: str, base: str) -> list[Finding]:
        findings: list[Finding] = []
        if base in self.shorteners or host in self.shorteners:
            findings.append(Finding("link_shortener", base))
        if base in self.messaging or host in self.messaging:
            findings.append(Finding("link_messaging", base))
        findings.extend(self._lookalike(host, shown, base))
        tld = base.rpartition(".")[2]
        if tld in self.suspicious_tlds:
            findings.append(Finding("domain_suspicious_tld", tld))
        return findings

    def _lookalike(self, host: str, shown: str, base: str) -> list[Finding]:
        international = not shown.isascii()
        name = _name_of(to_unicode(base)) or ""
        look = skeleton(name)
        imitated = self._imitated(name, look, base)
        if international:
            return self._international(shown, imitated)
        if imitated is not None:
            return [Finding("domain_typosquat", imitated)]
        if host in self.lookalike_hosts:
            return [Finding("domain_typosquat", self.lookalike_hosts[host])]
        # The brand's own name under another country's suffix (dhl.de) is not an added word.
        added = self._token_in(look) if name not in self.official_names else None
        if added is not None:
            return [Finding("domain_added_words", added)]
        subdomain = host[: -len(base)].strip(".")
        tricked = self._token_in(skeleton(subdomain), whole_labels=True) if subdomain else None
        return [Finding("domain_subdomain_trick", tricked)] if tricked else []

    def _imitated(self, name: str, look: str, base: str) -> str | None:
        if look in self.official_names and look != name:
            return self.official_names[look]
        if look in self.lookalikes:
            return self.lookalikes[look]
        tld = base.rpartition(".")[2]
        if name in self.official_names and tld in self.lookalike_tlds:
            return self.official_names[name]
        return None

    def _international(self, shown: str, imitated: str | None) -> list[Finding]:
        if imitated is None:
            imitated = self._token_in(skeleton(shown))
        findings = []
        if imitated is not None:
            findings.append(Finding("domain_homoglyph", imitated))
        if any(confusables.is_mixed_script(label) for label in shown.split(".")):
            findings.append(Finding("domain_mixed_script", shown))
        if not findings:
            findings.append(Finding("domain_punycode", shown))
        return findings

    def _token_in(self, text: str, *, whole_labels: bool = False) -> str | None:
        parts = [p for label in text.split(".") for p in (label, *label.split("-"))]
        squashed = text.replace("-", "").replace(".", "")
        for token, home in self.tokens.items():
            if token in parts:
                return home
            if not whole_labels and len(token) >= MIN_EMBEDDED_TOKEN and token in squashed:
                return home
        return None


def _name_of(domain: str) -> str | None:
    """``francetravail`` for ``francetravail.fr``; None when the domain is a bare suffix."""
    base = registrable(to_ascii(domain))
    if base is None:
        return None
    suffix = psl().publicsuffix(base, accept_unknown=True) or ""
    return to_unicode(base[: -len(suffix) - 1]) if suffix else None
