from __future__ import annotations

from pathlib import Path

import pytest

from breachwatch.phishing.config import PhishingConfig, load_config

from .helpers import HmacCodeVerifier

DATA = Path(__file__).parents[1] / "data" / "phishing"


@pytest.fixture(scope="session")
def config() -> PhishingConfig:
    return load_config()


@pytest.fixture(scope="session")
def verifier() -> HmacCodeVerifier:
    return HmacCodeVerifier()
