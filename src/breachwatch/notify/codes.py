"""Authenticity codes: ``BW-XXXX-XXXX-XXXX`` (Crockford base32, 60 bits), one per person and
campaign, the same in the e-mail, the SMS and the letter.

A code is a keyed MAC (HMAC-SHA256 under the notify key, truncated to 60 bits) of (campaign,
person): without the key nobody can make one, and a guess is right with odds of about
people / 2^60 (4e-11 for 43 M people) — online only, where the self-check's rate limits apply.
The outbox stores only a keyed tag of each code (and of each contact it went to), so a stolen
copy of the state database does not list valid codes either.

``OutboxCodeVerifier`` implements the phishing check's ``CodeVerifier``: a code is genuine when
it was issued and, if the caller knows who received the message, was issued to that contact (a
scammer pasting one person's genuine code into messages to others is caught).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import phonenumbers

from breachwatch.notify.keys import NotifyKeys, load_keys
from breachwatch.phishing.codes import CROCKFORD, normalise_code

CODE_BITS = 60
WELL_FORMED = re.compile(rf"BW-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}")


def code_value(keys: NotifyKeys, campaign_id: int, person: int) -> int:
    """The 60 bits of the code of ``person`` in this campaign."""
    mac = keys.mac("code", b"%d:%d" % (campaign_id, person), 8)
    return int.from_bytes(mac, "big") >> (64 - CODE_BITS)


def format_code(value: int) -> str:
    chars = "".join(CROCKFORD[(value >> shift) & 31] for shift in range(55, -1, -5))
    return f"BW-{chars[0:4]}-{chars[4:8]}-{chars[8:12]}"


def parse_code(code: str) -> int | None:
    """The 60 bits of a well-formed code (letters a person may mistype read as Crockford says),
    or None."""
    normalised = normalise_code(code)
    if not WELL_FORMED.fullmatch(normalised):
        return None
    value = 0
    for char in normalised[3:].replace("-", ""):
        value = value << 5 | CROCKFORD.index(char)
    return value


def issue_code(keys: NotifyKeys, campaign_id: int, person: int) -> str:
    return format_code(code_value(keys, campaign_id, person))


def value_tag(keys: NotifyKeys, value: int) -> bytes:
    return keys.tag("code-tag", value.to_bytes(8, "big"))


def canonical_contact(contact: str, region: str = "FR") -> str | None:
    """``email:<lower-case address>`` or ``phone:<E.164>``; None when it is neither."""
    text = contact.strip()
    address = parseaddr(text)[1] if "@" in text else ""
    if address and "@" in address:
        return "email:" + address.lower()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return "phone:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_tag(keys: NotifyKeys, contact: str | None, region: str = "FR") -> bytes | None:
    canonical = canonical_contact(contact, region) if contact else None
    return keys.tag("contact", canonical.encode()) if canonical else None


@dataclass(frozen=True)
class CodeCheck:
    well_formed: bool
    issued: bool
    campaign: str | None = None  # the campaign that issued it (no personal data)
    recipient_matches: bool | None = None  # None: no recipient given, or unknown form


class OutboxCodeVerifier:
    """Checks codes against the outbox (implements ``phishing.codes.CodeVerifier``)."""

    def __init__(self, settings: dict[str, Any], keys: NotifyKeys | None = None) -> None:
        from breachwatch.notify.outbox import open_outbox

        self.settings = settings
        self.keys = keys or load_keys(settings)
        self.region = str(settings.get("default_region", "FR"))
        self.outbox = open_outbox(settings)
        self._lock = threading.Lock()  # one connection; a web app calls from many threads

    def check(self, code: str, recipient: str | None = None) -> CodeCheck:
        value = parse_code(code)
        if value is None:
            return CodeCheck(well_formed=False, issued=False)
        with self._lock:
            found = self.outbox.find_code(value_tag(self.keys, value))
        if not found:
            return CodeCheck(well_formed=True, issued=False)
        wanted = contact_tag(self.keys, recipient, self.region) if recipient else None
        matches: bool | None = None
        if wanted is not None:
            matches = any(wanted in (email, phone) for _, _, email, phone in found)
        with self._lock:
            campaign = self._campaign_name(found[0][0])
        return CodeCheck(True, True, campaign, matches)

    def verify(self, code: str, recipient: str | None) -> bool:
        result = self.check(code, recipient)
        return result.issued and result.recipient_matches is not False

    def close(self) -> None:
        self.outbox.close()

    def _campaign_name(self, campaign_id: int) -> str | None:
        rows = self.outbox.query("SELECT name FROM notify_campaigns WHERE id = ?", (campaign_id,))
        return str(rows[0][0]) if rows else None
