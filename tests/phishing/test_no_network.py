"""A check never touches the network: no DNS, no connection, even for links and e-mail domains."""

from __future__ import annotations

import socket
from typing import Any, NoReturn

import pytest

from breachwatch.phishing.config import load_config
from breachwatch.phishing.engine import Checker
from breachwatch.phishing.evaluate import check_sample, load_samples

from .conftest import DATA
from .helpers import HmacCodeVerifier


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(f"network access during a check: {args!r}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
        monkeypatch.setattr(socket, name, _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket.socket, "sendto", _refuse)


def test_the_guard_itself_works(no_network: None) -> None:
    with pytest.raises(AssertionError, match="network access"):
        socket.getaddrinfo("example.org", 443)


def test_building_and_checking_the_whole_evaluation_set_is_offline(no_network: None) -> None:
    config = load_config()
    Checker(config)  # the look-alike tables (dnstwist, Public Suffix List) are built offline too
    samples = load_samples(DATA / "eval_set.jsonl")
    verifier = HmacCodeVerifier()
    verdicts = {check_sample(sample, config, verifier).verdict for sample in samples}
    assert verdicts == {"genuine", "suspicious", "phishing"}
