"""The lookup keys: the OPRF server key and the key sealing per-person payloads in the index.

Kept in one JSON file outside the workspace (mode 0600), like the workspace key: whoever holds
the index file but not this file can neither test an identifier against the index nor open a
payload. Rotation (docs/privacy.md): ``breachwatch index --rotate-key`` writes a new key file,
keeping the old one as ``<file>.<key id>.retired``, and rebuilds the index; partners fetch the new
key id from ``/api/v1/oprf/config`` and their earlier outputs stop matching.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breachwatch.errors import KeyError_
from breachwatch.lookup import oprf
from breachwatch.store.workspace import key_file


@dataclass(frozen=True)
class LookupKeys:
    oprf_key: bytes  # ristretto255 scalar
    seal_key: bytes  # AES-256-GCM key for the sealed payloads
    path: Path

    @property
    def key_id(self) -> str:
        """Public fingerprint: changes when the key rotates; reveals nothing about it."""
        return hashlib.sha256(b"breachwatch-lookup-key-id\x00" + self.oprf_key).hexdigest()[:16]


def key_path(settings: dict[str, Any]) -> Path:
    return key_file(settings, "lookup_key_file", "lookup")


def load_keys(settings: dict[str, Any]) -> LookupKeys:
    path = key_path(settings)
    try:
        data = json.loads(path.read_text(encoding="ascii"))
        keys = LookupKeys(bytes.fromhex(data["oprf_key"]), bytes.fromhex(data["seal_key"]), path)
    except FileNotFoundError:
        raise KeyError_(
            f"no lookup key at {path}: build the index first (`breachwatch index --breach NAME`)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyError_(f"lookup key file {path} is unreadable or malformed: {exc}") from None
    if len(keys.oprf_key) != 32 or len(keys.seal_key) != 32:
        raise KeyError_(f"lookup key file {path} is malformed: keys must be 32 bytes")
    return keys


def create_keys(settings: dict[str, Any], *, rotate: bool = False) -> LookupKeys:
    """Creates the key file if absent; with ``rotate``, retires the current one first."""
    path = key_path(settings)
    if path.exists():
        if not rotate:
            return load_keys(settings)
        old = load_keys(settings)
        path.rename(path.with_name(f"{path.name}.{old.key_id}.retired"))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps(
        {"version": 1, "oprf_key": oprf.random_key().hex(), "seal_key": secrets.token_hex(32)}
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(body)
    return load_keys(settings)
