"""The partner check against a real server process: exact intersection, nothing in clear,
keys, quotas, problem+json errors, audit trail; and limits shared through Redis."""

from __future__ import annotations

import base64
import csv
import json
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from breachwatch.errors import UsageError
from breachwatch.lookup.client import PartnerClient, partner_check
from breachwatch.lookup.identifiers import email_identifier, nir_identifier, phone_identifier
from breachwatch.lookup.index import LookupIndex
from breachwatch.lookup.keys import load_keys
from breachwatch.state import add_partner, verify_audit
from tests.lookup.conftest import MAIN, Indexed
from tests.lookup.live import live_server
from tests.services import redis_url

BW = str(Path(sys.executable).with_name("breachwatch"))


@pytest.fixture(scope="module")
def server(indexed: Indexed) -> Iterator[str]:
    with live_server(indexed.home) as url:
        yield url


@pytest.fixture(scope="module")
def api_key(indexed: Indexed) -> str:
    return add_partner(dict(indexed.settings()), f"bank-{random.randrange(10**9)}", 1_000_000)


def _customers(indexed: Indexed, path: Path) -> set[int]:
    """A customer file mixing affected people, other registry people, strangers and junk;
    returns the lines whose identifiers the index holds (the true intersection)."""
    index = LookupIndex(indexed.summary.path, load_keys(indexed.settings()))
    rng = random.Random(7)
    rows = rng.sample(indexed.registry, 400)
    expected: set[int] = set()
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["client", "Email", "mobile", "nir", "date_of_birth"])
        line = 1
        for i, row in enumerate(rows):
            line += 1
            use_nir = i % 3 == 0
            values = [
                f"C{i}",
                row["email"].upper() if i % 2 else row["email"],  # case must not matter
                row["tel_portable"],
                row["nir"] if use_nir else "",
                row["date_naissance"] if use_nir else "",
            ]
            w.writerow(values)
            idents = [
                email_identifier(values[1]),
                phone_identifier(values[2]),
                nir_identifier(values[3], values[4]) if use_nir else None,
            ]
            if any(index.find(x.data) for x in idents if x):
                expected.add(line)
        for j in range(100):
            line += 1
            w.writerow([f"S{j}", f"stranger{j}@example.org", "", "", ""])
        line += 1
        w.writerow(["BAD", "not-an-email", "12", "", ""])
    return expected


def test_partner_check_finds_exactly_the_intersection(
    indexed: Indexed, server: str, api_key: str, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    expected = _customers(indexed, customers)
    in_breach = {
        r["email"].lower() for r in indexed.registry if r["id_personne"] in indexed.affected
    }
    assert expected, "the sample should contain affected people"
    report = partner_check(customers, tmp_path / "matches.csv", server, api_key)
    with (tmp_path / "matches.csv").open(encoding="utf-8") as f:
        matches = list(csv.DictReader(f))
    assert {int(m["line"]) for m in matches} == expected
    assert report.matched_rows == len(expected)
    assert report.rows == 400 + 100 + 1
    assert report.invalid == 2  # the junk e-mail and phone, counted, never dropped silently
    assert all(m["breach"] == MAIN for m in matches)
    # The registry truth agrees: every affected customer's e-mail line matched.
    for m in matches:
        if m["kind"] == "email":
            assert m["value"].lower() in in_breach


def test_partner_check_cli_json(
    indexed: Indexed, server: str, api_key: str, tmp_path: Path
) -> None:
    customers = tmp_path / "c.csv"
    expected = _customers(indexed, customers)
    out = tmp_path / "m.csv"
    run = subprocess.run(
        [BW, "partner-check", str(customers), "--server", server, "--out", str(out), "--json"],
        env={"BREACHWATCH_PARTNER_KEY": api_key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["matched_rows"] == len(expected)
    assert report["bytes_sent"] > 0 and report["bytes_received"] > 0


def test_server_never_sees_an_identifier(indexed: Indexed, server: str, api_key: str) -> None:
    """What goes over the wire: random-looking group elements and short prefixes only."""
    client = PartnerClient(server, api_key)
    ident = email_identifier(indexed.registry[0]["email"])
    assert ident is not None
    sent: list[bytes] = []
    original = client.http.request

    def spy(method: str, url: str, **kw: object) -> httpx.Response:
        response = original(method, url, **kw)  # type: ignore[arg-type]
        sent.append(response.request.content)
        return response

    client.http.request = spy  # type: ignore[method-assign]
    assert client.check([ident, ident]) == client.check([ident, ident])
    body = b"".join(sent)
    assert ident.canonical.encode() not in body
    assert indexed.registry[0]["email"].encode() not in body
    first = json.loads(sent[0])["elements"]
    assert first[0] != first[1], "blinding is fresh for every request"
    client.close()


def test_wrong_api_key_is_refused(server: str) -> None:
    r = httpx.post(
        f"{server}/api/v1/oprf/evaluate",
        json={"elements": [], "prefixes": []},
        headers={"Authorization": "Bearer bwp_wrong"},
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
    with pytest.raises(UsageError, match="401"):
        PartnerClient(server, "bwp_wrong")


def test_bad_elements_are_problem_json(server: str, api_key: str) -> None:
    auth = {"Authorization": f"Bearer {api_key}"}
    cases = [
        ({"elements": ["!!"], "prefixes": [1]}, "base64"),
        ({"elements": [base64.b64encode(b"x" * 31).decode()], "prefixes": [1]}, "32 bytes"),
        ({"elements": [base64.b64encode(bytes(32)).decode()], "prefixes": [1]}, "invalid"),
        ({"elements": [base64.b64encode(bytes(32)).decode()], "prefixes": [2**40]}, "prefixes"),
        ({"elements": ["AA=="], "prefixes": []}, "equal length"),
        ({"prefixes": []}, "elements"),
    ]
    for body, words in cases:
        r = httpx.post(f"{server}/api/v1/oprf/evaluate", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], r.json()


def test_quota_per_partner(indexed: Indexed, server: str) -> None:
    key = add_partner(dict(indexed.settings()), f"small-{random.randrange(10**9)}", 3)
    client = PartnerClient(server, key)
    idents = [email_identifier(f"q{i}@example.org") for i in range(3)]
    assert client.check([i for i in idents if i]) == [False, False, False]
    with pytest.raises(UsageError, match="429.*quota"):
        client.check([i for i in idents if i][:1])
    client.close()


def test_openapi_is_served(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    assert "/api/v1/oprf/evaluate" in spec["paths"]


def test_every_partner_call_is_audited_and_chain_verifies(
    indexed: Indexed, server: str, api_key: str, tmp_path: Path
) -> None:
    client = PartnerClient(server, api_key)
    ident = email_identifier("audit.me@example.org")
    assert ident is not None
    client.check([ident])
    client.close()
    settings = dict(indexed.settings())
    check = verify_audit(settings)
    assert check.ok and check.entries >= 2
    db = sqlite3.connect(Path(str(settings["home"])) / "state.db")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log")]
    assert "oprf.evaluate" in actions and "partner.add" in actions
    run = subprocess.run(
        [BW, "-w", str(indexed.home), "audit", "verify"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr


def test_tampered_audit_log_fails_verification(indexed: Indexed, tmp_path: Path) -> None:
    settings = dict(indexed.settings())
    copy = tmp_path / "state.db"
    db = sqlite3.connect(copy)
    sqlite3.connect(Path(str(settings["home"])) / "state.db").backup(db)  # WAL included
    db.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1")
    db.commit()
    settings["state_url"] = f"sqlite:///{copy}"
    check = verify_audit(settings)
    assert not check.ok and check.first_bad == 1


def test_two_server_processes_share_a_redis_limit(indexed: Indexed) -> None:
    url = redis_url()
    env = {"BREACHWATCH_REDIS_URL": url, "BREACHWATCH_SELFCHECK_LIMIT_IP": "5/minute"}
    with live_server(indexed.home, env) as a, live_server(indexed.home, env) as b:
        codes = [
            httpx.post(f"{target}/check", data={"contact": f"r{i}@example.org"}).status_code
            for i, target in enumerate([a, b] * 4)
        ]
    assert codes.count(429) == 3, codes  # 8 requests, 5 allowed across both processes
    assert codes[:5].count(429) == 0
