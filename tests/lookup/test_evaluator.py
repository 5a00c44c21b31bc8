"""The index's batch evaluation: the same tags and keyed buckets as the reader computes them."""

from __future__ import annotations

import os

import pytest

from breachwatch.lookup import evaluator, oprf


@pytest.mark.parametrize("bits", [8, evaluator.CACHED_PREFIX_BITS, 24])
def test_batch_matches_one_by_one(bits: int) -> None:
    key, seal = oprf.random_key(), os.urandom(32)
    evaluator.init(key, seal, bits)
    # Few prefixes at 8 bits: the cache is hit; above CACHED_PREFIX_BITS it is not used.
    identifiers = [f"email:person{i}@example.org" for i in range(600)]
    for _ in range(2):  # the second pass reads the prefixes the first one cached
        buckets, tags = evaluator.evaluate_batch(identifiers)
        assert len(tags) == evaluator.TAG_BYTES * len(identifiers)
        for i, ident in enumerate(identifiers):
            data = ident.encode()
            tag = tags[i * evaluator.TAG_BYTES : (i + 1) * evaluator.TAG_BYTES]
            assert tag == oprf.evaluate(key, data)[: evaluator.TAG_BYTES]
            assert buckets[i] == evaluator.bucket_key(seal, evaluator.bucket(data, bits))
