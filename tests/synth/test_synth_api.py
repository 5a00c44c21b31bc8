from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from synth_readers import PEOPLE, SEED

import breachwatch.synth as synth_package
from breachwatch.errors import UsageError
from breachwatch.synth import SynthManifest, generate


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_public_api() -> None:
    assert synth_package.__all__ == ["SynthManifest", "generate"]
    fields = [f.name for f in dataclasses.fields(SynthManifest)]
    assert fields == ["out", "people", "seed", "registry", "main_leak", "earlier_leaks", "truth"]
    assert SynthManifest.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_manifest_points_at_every_file(synth: SynthManifest, manifest_doc: dict) -> None:
    assert (synth.people, synth.seed) == (PEOPLE, SEED)
    assert set(synth.earlier_leaks) >= {"telecom", "retail", "health"}
    assert set(synth.truth) == {"main", *synth.earlier_leaks}
    for path in [
        synth.registry,
        synth.main_leak,
        *synth.earlier_leaks.values(),
        *synth.truth.values(),
    ]:
        assert path.is_file() and path.parent.is_relative_to(synth.out)
    assert manifest_doc["registry"]["rows"] == PEOPLE
    for name, entry in manifest_doc["leaks"].items():
        assert (synth.out / entry["file"]).is_file() and (synth.out / entry["truth"]).is_file()
        assert {"format", "encoding", "columns", "rows", "rates", "observed"} <= set(entry)
        assert entry["observed"]["rows"] == entry["rows"]
        assert name in synth.truth
    assert not (synth.out / ".spool").exists()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = _digests(generate(1_500, 3, tmp_path / "a").out)
    again = _digests(generate(1_500, 3, tmp_path / "b").out)
    other = _digests(generate(1_500, 4, tmp_path / "c").out)
    assert first == again
    assert len(first) == 12  # registry, 5 leaks, 5 truth files, manifest
    assert all(first[name] != other[name] for name in first)


def test_progress_reports_every_step(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate(1_000, 1, tmp_path, lambda step, done, total: calls.append((step, done, total)))
    steps = list(dict.fromkeys(step for step, _, _ in calls))
    assert steps == ["people", "main", "telecom", "retail", "health", "forum"]
    for step in steps:
        done, total = [c[1:] for c in calls if c[0] == step][-1]
        assert done == total > 0


@pytest.mark.parametrize("people, seed", [(0, 1), (-5, 1), (60_000_000, 1), (10, -1)])
def test_bad_arguments_are_usage_errors(tmp_path: Path, people: int, seed: int) -> None:
    with pytest.raises(UsageError):
        generate(people, seed, tmp_path)
