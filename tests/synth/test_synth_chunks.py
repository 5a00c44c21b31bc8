"""The chunked paths (several chunks, several shuffle buckets) at a size a test can afford."""

from __future__ import annotations

from pathlib import Path

import pytest
from stdnum.fr import nir as stdnir
from synth_readers import read_main, read_registry, read_truth

from breachwatch.synth import SynthManifest, generate


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("breachwatch.synth.population.CHUNK_PEOPLE", 700)
        patch.setattr("breachwatch.synth.pipeline.BUCKET_ROWS", 900)
        return generate(2_500, 9, tmp_path_factory.mktemp("chunked"))


def test_identifiers_stay_unique_across_chunks(chunked: SynthManifest) -> None:
    registry = read_registry(chunked.registry)
    assert [r["id_personne"] for r in registry] == [f"P{i:08d}" for i in range(1, 2_501)]
    for column in ("nir", "email", "identifiant", "tel_portable"):
        assert len({r[column] for r in registry}) == len(registry), column
    assert all(stdnir.is_valid(r["nir"]) for r in registry)


def test_buckets_make_one_shuffled_file(chunked: SynthManifest) -> None:
    truth = read_truth(chunked.truth["main"])
    assert len(read_main(chunked.main_leak)) == len(truth)
    positions = [int(t["identity_id"][1:]) for t in truth if t["person_id"]]
    first_chunk = [p <= 700 for p in positions]
    # People of the first chunk are spread over the whole file, not packed at its start.
    assert 0.15 < sum(first_chunk[: len(first_chunk) // 2]) / sum(first_chunk) < 0.85


def test_every_identity_is_used_once_per_registry_number(chunked: SynthManifest) -> None:
    for path in chunked.truth.values():
        for t in read_truth(path):
            if t["person_id"]:
                assert int(t["person_id"][1:]) == int(t["identity_id"][1:]) <= 2_500


def test_chunking_is_deterministic(chunked: SynthManifest, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("breachwatch.synth.population.CHUNK_PEOPLE", 700)
        patch.setattr("breachwatch.synth.pipeline.BUCKET_ROWS", 900)
        again = generate(2_500, 9, tmp_path)
    for name, path in chunked.truth.items():
        assert path.read_bytes() == again.truth[name].read_bytes()
    assert chunked.registry.read_bytes() == again.registry.read_bytes()
