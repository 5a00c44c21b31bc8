"""Every link in a text: full URLs, ``www.`` hosts, bare domains, defanged ``hxxp``/``[.]``, and
e-mail addresses (whose domain is checked like a link's)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from breachwatch.phishing.domains import known_suffix

_LABEL = r"[\w](?:[\w-]{0,61}[\w])?"
_DOT = r"(?:\.|\[\.\]|\(\.\)|\[dot\]|\(dot\))"
_HOST = rf"(?:{_LABEL}{_DOT})+(?:[a-z]{{2,24}}|xn--[a-z0-9-]{{2,59}})"
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_TAIL = r"(?::\d{1,5})?(?:[/?#][^\s<>\"'{}|\\^`\[\]]*)?"
# Scheme URLs first (their host may be an IP), then www./bare hosts, then e-mail addresses.
LINK_RE = re.compile(
    rf"(?P<url>\b(?:h[tx]{{2}}ps?|ftp)(?::|\[:\])//(?P<uhost>{_HOST}|{_IPV4}|\[[0-9a-f:]+\]|[^\s/?#<>\"']+){_TAIL})"
    rf"|(?P<mail>(?<![\w.+-])[\w.+-]{{1,64}}@(?P<mhost>{_HOST}))"
    rf"|(?P<bare>(?<![\w@./-])(?P<bhost>{_HOST}|{_IPV4}(?=[/:])){_TAIL})",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)»\"'’*"
# File names whose extension is also a top-level domain: "facture.zip" is no link.
_FILE_LIKE = {"zip", "mov", "pdf", "doc", "docx", "xls", "xlsx", "jpg", "png", "exe", "txt"}


@dataclass(frozen=True)
class Link:
    url: str
    host: str
    start: int
    end: int
    is_address: bool = False
    has_scheme: bool = False


def extract_links(text: str) -> list[Link]:
    links = []
    for match in LINK_RE.finditer(text):
        link = _link(match)
        if link is not None:
            links.append(link)
    return links


def _link(match: re.Match[str]) -> Link | None:
    kind = match.lastgroup if match.lastgroup in ("url", "mail", "bare") else _kind(match)
    raw = match.group(kind)
    stripped = raw.rstrip(_TRAILING)
    start = match.start(kind)
    host = _undefang(match.group({"url": "uhost", "mail": "mhost", "bare": "bhost"}[kind]))
    host = host.rstrip(_TRAILING).lower()
    if kind == "bare" and not _plausible_bare(host, _undefang(stripped)):
        return None
    return Link(
        url=_undefang(stripped),
        host=host,
        start=start,
        end=start + len(stripped),
        is_address=kind == "mail",
        has_scheme=kind == "url",
    )


def _kind(match: re.Match[str]) -> str:
    for kind in ("url", "mail", "bare"):
        if match.group(kind) is not None:
            return kind
    raise AssertionError("LINK_RE matched no alternative")  # pragma: no cover


def _undefang(text: str) -> str:
    if "[" not in text and "(" not in text and "hxxp" not in text.lower():
        return text
    text = re.sub(r"\[\.\]|\(\.\)|\[dot\]|\(dot\)", ".", text, flags=re.I)
    text = text.replace("[:]", ":")
    return re.sub(r"^hxxp", "http", text, flags=re.I)


def _plausible_bare(host: str, raw: str) -> bool:
    if host[0].isdigit() and host.replace(".", "").isdigit():
        return True
    tld = host.rpartition(".")[2]
    if tld in _FILE_LIKE and "/" not in raw:
        return False
    # "...votre dossier.Je vous..." is a missing space, not the Jersey domain "dossier.je".
    shown_tld = raw.partition("/")[0].rpartition(".")[2]
    if shown_tld[:1].isupper() and shown_tld[1:].islower() and "/" not in raw:
        return False
    return known_suffix(host)
