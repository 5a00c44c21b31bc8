"""The notify key: seals the outbox's personal fields and makes the authenticity codes.

The outbox lives in the operational database (SQLite or PostgreSQL), which is not encrypted, so
every contact and per-person content parameter is stored sealed (AES-256-GCM) under this key.
The key is one JSON file outside the workspace (mode 0600), like the lookup key: whoever copies
the state database without it reads no contact, no name and no valid authenticity code.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from breachwatch.errors import KeyError_
from breachwatch.store.workspace import key_file

NONCE_BYTES = 12
TAG_BYTES = 16
_KEYED: dict[tuple[bytes, str, int], Any] = {}


@dataclass(frozen=True)
class NotifyKeys:
    seal_key: bytes  # AES-256-GCM: outbox payloads
    mac_key: bytes  # HMAC-SHA256: authenticity codes and the keyed tags of codes and contacts
    path: Path

    @property
    def key_id(self) -> str:
        """Public fingerprint, stored with each campaign: a swapped key file is detected."""
        return hashlib.sha256(b"breachwatch-notify-key-id\x00" + self.mac_key).hexdigest()[:16]

    def mac(self, label: str, data: bytes, size: int = 32) -> bytes:
        """Keyed BLAKE2b (RFC 7693's MAC mode; ``label`` personalises it per use): as strong as
        HMAC-SHA256 here and a third of its cost, which counts 43 M times over at plan time."""
        keyed = _KEYED.get((self.mac_key, label, size))
        if keyed is None:
            keyed = hashlib.blake2b(key=self.mac_key, person=label.encode()[:16], digest_size=size)
            _KEYED[self.mac_key, label, size] = keyed
        one = keyed.copy()  # the key block is hashed once, not once per call
        one.update(data)
        return one.digest()

    def tag(self, label: str, data: bytes) -> bytes:
        """A keyed 16-byte tag of a code or a contact: findable by whoever holds the key, and
        nothing else (a phone number's small search space cannot be brute-forced without it)."""
        return self.mac(label, data, TAG_BYTES)

    def sealer(self) -> Sealer:
        return Sealer(self.seal_key)


class Sealer:
    """AES-256-GCM with a random nonce; the associated data binds a payload to its row, so a
    payload copied to another row (or campaign) does not open."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyError_(
                "an outbox payload does not open with the notify key: wrong key file, or the "
                "row was altered"
            ) from None


def row_aad(campaign_id: int, person: int) -> bytes:
    return f"breachwatch-notify-v1\x00{campaign_id}\x00{person}".encode()


def key_path(settings: dict[str, Any]) -> Path:
    return key_file(settings, "notify_key_file", "notify")


def load_keys(settings: dict[str, Any]) -> NotifyKeys:
    path = key_path(settings)
    try:
        data = json.loads(path.read_text(encoding="ascii"))
        keys = NotifyKeys(bytes.fromhex(data["seal_key"]), bytes.fromhex(data["mac_key"]), path)
    except FileNotFoundError:
        raise KeyError_(
            f"no notify key at {path}: plan a campaign first (`breachwatch notify plan`), or "
            "copy the key file of the machine that planned it (notify_key_file)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyError_(f"notify key file {path} is unreadable or malformed: {exc}") from None
    if len(keys.seal_key) != 32 or len(keys.mac_key) != 32:
        raise KeyError_(f"notify key file {path} is malformed: keys must be 32 bytes")
    return keys


def create_keys(settings: dict[str, Any]) -> NotifyKeys:
    """The key file, created (0600, in a 0700 folder) when absent."""
    path = key_path(settings)
    if path.exists():
        return load_keys(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps(
        {"version": 1, "seal_key": secrets.token_hex(32), "mac_key": secrets.token_hex(32)}
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile
        return load_keys(settings)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(body)
    return load_keys(settings)
