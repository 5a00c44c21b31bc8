"""What a reported message points at: the attacker's links, domains, numbers and senders.

These are what a national CERT takes down or blocks, and what ties two reports to one wave.
Links to the organisation's own domains or to a known brand's, their official numbers and the
official SMS sender ids are not indicators: scammers quote them to look genuine, so sharing one
says nothing about two messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from breachwatch.phishing import phones
from breachwatch.phishing.domains import HostReport
from breachwatch.phishing.engine import Checker
from breachwatch.phishing.message import Mailbox, Message
from breachwatch.phishing.text import fold
from breachwatch.phishing.urls import Link, extract_links

IndicatorType = Literal["url", "domain", "ip", "phone", "email", "sender"]
INDICATOR_TYPES: tuple[IndicatorType, ...] = ("url", "domain", "ip", "phone", "email", "sender")
MAX_VALUE = 2048
_NUMERIC_SENDER_RE = re.compile(r"\+?\d{6,15}")


@dataclass(frozen=True)
class Indicator:
    """``link``: two reports sharing it belong to the same wave.

    A URL on an ordinary domain does not link (its domain does); a shortened or messaging link
    (``bit.ly/x``, ``t.me/x``) links by itself, since its domain is shared by everyone.
    """

    type: IndicatorType
    value: str
    link: bool


class _Found:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Indicator] = {}

    def add(self, kind: IndicatorType, value: str, link: bool) -> None:
        value = value[:MAX_VALUE]
        known = self.items.get((kind, value))
        if known is None or (link and not known.link):
            self.items[(kind, value)] = Indicator(kind, value, link)


def extract_indicators(message: Message, checker: Checker) -> list[Indicator]:
    """Every indicator of ``message``, each once, in the order found."""
    found = _Found()
    for field_name in ("subject", "body"):
        for link in extract_links(message.fields.get(field_name, "")):
            _link(found, link, checker)
    for html_link in message.html_links:
        targets = extract_links(html_link.href.removeprefix("mailto:"))
        if targets:
            _link(found, targets[0], checker)
    for box in (message.from_, message.reply_to):
        if box is not None and box.domain:
            _mailbox(found, box, checker)
    _phones(found, message, checker)
    _sms_sender(found, message.fields.get("sender", ""), checker)
    return list(found.items.values())


def _link(found: _Found, link: Link, checker: Checker) -> None:
    report = checker.domains.analyse(link.host)
    if report.owner is not None:
        return
    if link.is_address:
        found.add("email", link.url.lower(), True)
        _lookalike_domain(found, report)
        return
    codes = {f.code for f in report.findings}
    if "link_raw_ip" in codes:
        found.add("ip", report.host, True)
        found.add("url", link.url, False)
    elif codes & {"link_shortener", "link_messaging"}:
        found.add("url", link.url, True)
    else:
        found.add("url", link.url, False)
        found.add("domain", report.registrable or report.host, True)


def _mailbox(found: _Found, box: Mailbox, checker: Checker) -> None:
    report = checker.domains.analyse(box.domain)
    if report.owner is not None:
        return  # a spoofed official sender: every spoofing wave would share it
    found.add("email", box.address.lower(), True)
    _lookalike_domain(found, report)


def _lookalike_domain(found: _Found, report: HostReport) -> None:
    """A sender's domain is an indicator when it imitates someone: ``gmail.com`` is not."""
    if report.registrable and any(
        f.code.startswith("domain_") and f.code != "domain_official" for f in report.findings
    ):
        found.add("domain", report.registrable, True)


def _phones(found: _Found, message: Message, checker: Checker) -> None:
    body = message.fields.get("body", "")
    official = {n for brand in checker.brands for n in brand.phone_numbers}
    for phone in phones.find_phones(body, fold(body)):
        if not phone.short and phone.national not in official:
            found.add("phone", e164(phone.national, phone.text), True)


def _sms_sender(found: _Found, sender: str, checker: Checker) -> None:
    compact = "".join(sender.split())
    if not compact or compact.lower() in checker.sms_senders:
        return
    if _NUMERIC_SENDER_RE.fullmatch(compact):
        national = "" if compact.startswith("+") else compact
        found.add("phone", e164(national, compact), True)
    else:
        found.add("sender", sender.strip(), False)


def e164(national: str, written: str) -> str:
    """``+33612345678`` for a French number however written; ``+<digits>`` for a foreign one."""
    digits = "".join(ch for ch in written if ch.isdigit())
    if national.startswith("0") and len(national) == 10:
        return "+33" + national[1:]
    if written.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits
