"""OPRF evaluation of identifier batches, in worker processes when the index is built.

Kept light on purpose (hashlib, hmac and libsodium through ``oprf``): a spawned worker imports
this module and nothing of DuckDB, pandas or the ingest normalisers.

Why processes and not threads: libsodium's Elligator map (about 12 us) is short enough that two
threads spend their time handing the GIL to each other; measured on 2 cores, two threads gave
1.6x one thread on ``evaluate_many`` and none at all on the map alone. Worker processes run
the whole evaluation without sharing anything, at twice the rate of one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from breachwatch.lookup import oprf

BUCKET_DOMAIN = b"breachwatch-bucket-v1\x00"
TAG_BYTES = 16
# Keyed buckets are cached per process up to this many prefix bits (2**20 prefixes: ~100 MB): at
# 43 M people every prefix holds ~125 identifiers, so the HMAC (~1.5 us) is computed once per
# prefix instead of once per identifier.
CACHED_PREFIX_BITS = 20

_STATE: dict[str, Any] = {}


def bucket(data: bytes, bits: int) -> int:
    """The first ``bits`` bits (1..32) of SHA-256(domain || identifier), as an integer."""
    head = int.from_bytes(hashlib.sha256(BUCKET_DOMAIN + data).digest()[:4], "big")
    return head >> (32 - bits)


def bucket_key(seal_key: bytes, prefix: int) -> int:
    """The stored form of a bucket prefix: keyed, so the index file alone says nothing."""
    mac = hmac.new(seal_key, b"bucket\x00" + prefix.to_bytes(4, "big"), hashlib.sha256)
    return int.from_bytes(mac.digest()[:8], "big", signed=True)


def init(oprf_key: bytes, seal_key: bytes, prefix_bits: int) -> None:
    """Keys for this process's evaluations (the worker initialiser; keys travel by pipe)."""
    _STATE.update(oprf_key=oprf_key, seal_key=seal_key, bits=prefix_bits, keyed={})


def evaluate_batch(identifiers: list[str]) -> tuple[list[int], bytes]:
    """Per canonical identifier: its keyed bucket, and the concatenated ``TAG_BYTES``-byte tags
    (the head of its OPRF output), in input order."""
    key, seal, bits = _STATE["oprf_key"], _STATE["seal_key"], _STATE["bits"]
    data = [s.encode() for s in identifiers]
    outputs = oprf.evaluate_many(key, data)
    if bits > CACHED_PREFIX_BITS:
        buckets = [bucket_key(seal, bucket(d, bits)) for d in data]
    else:
        keyed: dict[int, int] = _STATE["keyed"]
        buckets = []
        for d in data:
            prefix = bucket(d, bits)
            value = keyed.get(prefix)
            if value is None:
                value = keyed[prefix] = bucket_key(seal, prefix)
            buckets.append(value)
    return buckets, b"".join(o[:TAG_BYTES] for o in outputs)
