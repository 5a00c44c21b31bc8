"""One small generated data set shared by the synth tests (generation takes about a second)."""

from __future__ import annotations

import json

import pytest
from synth_readers import PEOPLE, SEED

from breachwatch.synth import SynthManifest, generate


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate(PEOPLE, SEED, tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="session")
def manifest_doc(synth: SynthManifest) -> dict:
    return json.loads((synth.out / "manifest.json").read_text(encoding="utf-8"))
