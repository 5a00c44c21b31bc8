"""The lookup index: finds exactly the affected people, holds nothing that can be brute-forced."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from breachwatch.errors import ConfigError, UsageError, WorkspaceError
from breachwatch.lookup.identifiers import Kind, email_identifier, nir_identifier, phone_identifier
from breachwatch.lookup.index import KIND_CODES, LookupIndex, build_index
from breachwatch.lookup.keys import load_keys
from breachwatch.settings import load_settings
from breachwatch.store.workspace import open_workspace
from tests.lookup.conftest import MAIN, Indexed


def _copy(indexed: Indexed, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the indexed workspace with a copy of its lookup key: (home, keys folder)."""
    import shutil

    from tests.lookup.conftest import pin_keys

    home = tmp_path / "ws"
    shutil.copytree(indexed.home, home)
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    shutil.copy(load_keys(indexed.settings()).path, keys_dir / "lookup.key")
    pin_keys(home, keys_dir, Path(str(indexed.settings()["key_file"])))
    return home, keys_dir


def _index(indexed: Indexed) -> LookupIndex:
    return LookupIndex(indexed.summary.path, load_keys(indexed.settings()))


def test_every_affected_person_is_found_by_each_identifier(indexed: Indexed) -> None:
    index = _index(indexed)
    checked = 0
    for row in indexed.registry:
        if row["id_personne"] not in indexed.affected:
            continue
        idents = [
            email_identifier(row["email"]),
            phone_identifier(row["tel_portable"]),
            nir_identifier(row["nir"], row["date_naissance"]),
        ]
        for ident in filter(None, idents):
            found = index.find(ident.data)
            assert row["id_personne"] in {p["record_id"] for p in found}, ident.kind
            checked += 1
    assert checked > 2 * len(indexed.affected)


def test_people_outside_the_breach_are_not_found(indexed: Indexed) -> None:
    index = _index(indexed)
    outside = [r for r in indexed.registry if r["id_personne"] not in indexed.affected]
    assert outside, "the synthetic main leak should leave some registry people out"
    for row in outside:
        ident = nir_identifier(row["nir"], row["date_naissance"])
        if ident is not None:
            assert index.find(ident.data) == []
    assert index.find(b"email:nobody.at.all@example.org") == []


def test_payload_says_what_leaked_and_the_risks(indexed: Indexed) -> None:
    index = _index(indexed)
    row = next(r for r in indexed.registry if r["id_personne"] in indexed.affected)
    ident = nir_identifier(row["nir"], row["date_naissance"])
    assert ident is not None
    (payload,) = index.find(ident.data)
    assert "nir" in payload["classes"]
    assert payload["risks"], "a person whose NIR, name and address leaked has risks"
    assert {e["class"] for e in payload["exposure"]} >= set(payload["classes"])


def test_nir_needs_the_right_birth_date(indexed: Indexed) -> None:
    index = _index(indexed)
    row = next(r for r in indexed.registry if r["id_personne"] in indexed.affected)
    year, month, day = row["date_naissance"].split("-")
    other_day = f"{year}-{month}-{'02' if day == '01' else '01'}"
    ident = nir_identifier(row["nir"], other_day)
    assert ident is not None
    assert index.find(ident.data) == []


def test_index_file_holds_no_identifier_nor_plain_hash(indexed: Indexed) -> None:
    blob = indexed.summary.path.read_bytes()
    affected_rows = [r for r in indexed.registry if r["id_personne"] in indexed.affected][:200]
    assert affected_rows
    for row in affected_rows:
        values = [row["email"], row["nir"], row["tel_portable"].replace(" ", "")]
        idents = [
            email_identifier(row["email"]),
            phone_identifier(row["tel_portable"]),
            nir_identifier(row["nir"], row["date_naissance"]),
        ]
        forms = [v for v in values if v] + [i.canonical for i in idents if i]
        forms += [i.canonical.split(":", 1)[1] for i in idents if i]
        for form in forms:
            data = form.encode()
            assert data not in blob, "identifier in clear"
            for algo in ("sha1", "sha256"):
                digest = hashlib.new(algo, data)
                assert digest.digest() not in blob, f"plain {algo}"
                assert digest.hexdigest().encode() not in blob, f"plain {algo} (hex)"
        for name in (row["nom"], row["prenom"]):
            assert name.encode() not in blob or len(name) < 4


def test_bucket_prefixes_are_not_stored_in_clear(indexed: Indexed) -> None:
    """The stored bucket is keyed: the file does not say which prefixes are occupied."""
    from breachwatch.lookup.identifiers import bucket

    bits = indexed.summary.prefix_bits
    db = sqlite3.connect(indexed.summary.path)
    stored = {r[0] for r in db.execute("SELECT bucket FROM entries")}
    plain = set()
    for row in indexed.registry:
        ident = nir_identifier(row["nir"], row["date_naissance"])
        if ident and row["id_personne"] in indexed.affected:
            plain.add(bucket(ident.data, bits))
    assert plain and not plain & stored


def test_index_summary_counts_reconcile(indexed: Indexed) -> None:
    s = indexed.summary
    assert s.people == len(indexed.affected)
    assert s.entries == sum(s.by_kind.values())
    assert s.by_kind["nir"] == s.people  # every synthetic registry person has NIR and DOB
    db = sqlite3.connect(s.path)
    assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == s.entries
    # by_kind is counted from the Arrow batches as they are written: the file must agree.
    stored = dict(db.execute("SELECT kind, count(*) FROM entries GROUP BY kind").fetchall())
    assert {kind: stored[KIND_CODES[Kind(kind)]] for kind in s.by_kind} == s.by_kind
    assert sum(stored.values()) == s.entries
    assert db.execute("SELECT count(*) FROM people").fetchone()[0] == s.people
    assert s.sensitive is True


def test_index_from_another_key_is_refused(indexed: Indexed, tmp_path: Path) -> None:
    settings = dict(indexed.settings())
    settings["lookup_key_file"] = str(tmp_path / "other.key")
    from breachwatch.lookup.keys import create_keys

    with pytest.raises(WorkspaceError, match="rebuild"):
        LookupIndex(indexed.summary.path, create_keys(settings))


def test_key_file_inside_the_workspace_is_refused(indexed: Indexed) -> None:
    settings = dict(indexed.settings())
    settings["lookup_key_file"] = str(indexed.home / "lookup.key")
    from breachwatch.lookup.keys import create_keys

    with pytest.raises(ConfigError, match="outside"):
        create_keys(settings)


def test_unknown_breach_is_a_usage_error(indexed: Indexed) -> None:
    with open_workspace(indexed.home) as ws, pytest.raises(UsageError, match="not an ingested"):
        build_index(ws, "no-such-breach")


def test_rebuild_with_rotated_key_changes_outputs(indexed: Indexed, tmp_path: Path) -> None:
    """Rotation on a copy of the workspace: the old index no longer opens with the new key,
    the new index finds the same people, the old key is kept as retired."""
    home, keys_dir = _copy(indexed, tmp_path)
    old = load_keys(load_settings(home))
    with open_workspace(home) as ws:
        summary = build_index(ws, MAIN, rotate_key=True, sensitive=False, workers=1)
    new = load_keys(load_settings(home))
    assert new.key_id != old.key_id and summary.key_id == new.key_id
    assert list(keys_dir.glob("lookup.key.*.retired"))
    with pytest.raises(WorkspaceError):
        LookupIndex(indexed.summary.path, new)
    assert summary.people == indexed.summary.people
    assert summary.entries == indexed.summary.entries
    assert summary.sensitive is False
    old_tags = sqlite3.connect(indexed.summary.path).execute("SELECT tag FROM entries").fetchall()
    new_tags = sqlite3.connect(summary.path).execute("SELECT tag FROM entries").fetchall()
    assert not set(old_tags) & set(new_tags)


def test_chunked_build_gives_the_same_index(
    indexed: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """People taken 97 at a time (more than ten chunks here, one in the shared build): the same
    entries and the same sealed payloads, person for person."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from breachwatch.lookup import index as index_module

    home, _ = _copy(indexed, tmp_path)
    monkeypatch.setattr(index_module, "CHUNK_PEOPLE", 97)
    with open_workspace(home) as ws:
        summary = build_index(ws, MAIN, workers=1)
    assert summary.people > 10 * 97

    aead = AESGCM(load_keys(indexed.settings()).seal_key)
    aad = index_module.payload_aad(MAIN)

    def contents(path: Path) -> tuple[set[tuple[object, ...]], dict[int, bytes]]:
        db = sqlite3.connect(path)
        entries = set(db.execute("SELECT bucket, tag, person, kind FROM entries"))
        people = {
            person: aead.decrypt(sealed[:12], sealed[12:], aad + str(person).encode())
            for person, sealed in db.execute("SELECT person, sealed FROM people")
        }
        return entries, people

    assert contents(summary.path) == contents(indexed.summary.path)
