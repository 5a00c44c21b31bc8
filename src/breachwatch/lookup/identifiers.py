"""Canonical identifiers: the exact bytes the index, the self-check and partners evaluate.

Both sides must produce the same string for the same person, so the normalisation here is the
ingest normalisers' (library form): lower-case e-mail as email-validator normalises it, E.164
phone, the 15-digit NIR with its key plus the ISO date of birth (a NIR alone is a small search
space, and the page asks for both).

The bucket prefix is the first ``bits`` bits of a domain-separated SHA-256 of the canonical
identifier: a partner sends it in clear so the server can return one bucket instead of the whole
index. docs/privacy.md says what it reveals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from breachwatch.ingest.normalize import _email_udf, _nir_udf, phone_e164
from breachwatch.lookup.evaluator import BUCKET_DOMAIN, bucket

__all__ = [
    "BUCKET_DOMAIN",
    "Identifier",
    "Kind",
    "bucket",
    "email_identifier",
    "nir_identifier",
    "phone_identifier",
]


class Kind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    NIR = "nir"


@dataclass(frozen=True)
class Identifier:
    kind: Kind
    canonical: str  # e.g. "email:ana@example.org", "phone:+33612345678", "nir:1...:1990-01-31"

    @property
    def data(self) -> bytes:
        return self.canonical.encode()


def email_identifier(value: str) -> Identifier | None:
    normal = _email_udf(value.strip()) if value and value.strip() else None
    return Identifier(Kind.EMAIL, f"email:{normal}") if normal else None


def phone_identifier(value: str, region: str = "FR") -> Identifier | None:
    text = value.strip() if value else ""
    if not text or len(text) > 40:
        return None
    # The library path of the ingest normaliser, so a typed number meets the stored one.
    e164 = phone_e164(text, region) or ""
    return Identifier(Kind.PHONE, f"phone:{e164}") if e164 else None


def nir_identifier(value: str, birth: date | str) -> Identifier | None:
    nir = _nir_udf(value) if value and value.strip() else None
    if not nir:
        return None
    if isinstance(birth, str):
        try:
            birth = date.fromisoformat(birth.strip())
        except ValueError:
            return None
    return Identifier(Kind.NIR, f"nir:{nir}:{birth.isoformat()}")
