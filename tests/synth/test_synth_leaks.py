from __future__ import annotations

import gzip
import re
import zipfile
from collections import Counter

import pytest
from synth_readers import (
    PEOPLE,
    read_forum,
    read_main,
    read_retail,
    read_telecom,
    read_truth,
)
from synth_sqldump import parse_inserts

from breachwatch.synth import SynthManifest
from breachwatch.synth.config import EARLIER_LEAKS, MAIN_LEAK

SPECS = {s.name: s for s in (MAIN_LEAK, *EARLIER_LEAKS)}
RESERVED = re.compile(r"@(example\.(org|com|net)|[a-z0-9.-]+\.test)$", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+'’-]+@[\w.-]+")


def _records(synth: SynthManifest, name: str) -> list:
    path = synth.main_leak if name == "main" else synth.earlier_leaks[name]
    readers = {
        "main": read_main,
        "telecom": read_telecom,
        "retail": read_retail,
        "forum": read_forum,
        "health": _read_health,
    }
    return readers[name](path)


def _read_health(path) -> list[dict]:
    columns, rows, _ = parse_inserts(path.read_text(encoding="utf-8"))
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _all_text(synth: SynthManifest) -> str:
    with zipfile.ZipFile(synth.earlier_leaks["forum"]) as archive:
        forum = archive.read("users.csv").decode("utf-8-sig")
    return "\n".join(
        [
            synth.registry.read_text(encoding="utf-8"),
            gzip.decompress(synth.main_leak.read_bytes()).decode("utf-8"),
            synth.earlier_leaks["telecom"].read_bytes().decode("cp1252"),
            synth.earlier_leaks["retail"].read_text(encoding="utf-8"),
            synth.earlier_leaks["health"].read_text(encoding="utf-8"),
            forum,
        ]
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_rows_match_truth_and_manifest(synth: SynthManifest, manifest_doc: dict, name: str) -> None:
    records = _records(synth, name)
    truth = read_truth(synth.truth[name])
    assert len(records) == len(truth) == manifest_doc["leaks"][name]["rows"] > 0
    assert [int(t["record_no"]) for t in truth] == list(range(1, len(truth) + 1))


@pytest.mark.parametrize("name", list(SPECS))
def test_overlap_with_registry_as_configured(synth: SynthManifest, name: str) -> None:
    truth = read_truth(synth.truth[name])
    people = {t["person_id"] for t in truth if t["person_id"]}
    assert abs(len(people) / PEOPLE - SPECS[name].registry_share) < 0.03
    outsiders = sum(1 for t in truth if not t["person_id"])
    if name == "main":
        assert 0.002 < outsiders / len(truth) < 0.01  # deleted accounts
    else:
        assert outsiders / len(truth) > 0.5  # the sector's other customers are the majority


@pytest.mark.parametrize("name", list(SPECS))
def test_duplicates_present_and_rows_shuffled(synth: SynthManifest, name: str) -> None:
    truth = read_truth(synth.truth[name])
    identities = Counter(t["identity_id"] for t in truth)
    repeated = len(truth) - len(identities)
    assert 0.3 * SPECS[name].duplicate_share < repeated / len(identities)
    ordered = [t["identity_id"] for t in truth]
    assert ordered != sorted(ordered)


@pytest.mark.parametrize("name", ["telecom", "retail", "health", "forum"])
def test_source_keys_are_the_leaks_own_ids(synth: SynthManifest, name: str) -> None:
    key = {"telecom": "id_client", "retail": "customer_id", "health": "id", "forum": "user_id"}
    records = _records(synth, name)
    truth = read_truth(synth.truth[name])
    assert [str(r[key[name]]) for r in records] == [t["source_key"] for t in truth]
    keys = [int(t["source_key"]) for t in truth]
    assert keys == sorted(set(keys))  # rising, unique, with gaps


def test_main_leak_holds_no_registry_key(synth: SynthManifest) -> None:
    records = read_main(synth.main_leak)
    assert list(records[0]) == [
        "lastname",
        "firstname",
        "birthname",
        "ssn",
        "agency_id",
        "email",
        "phone",
        "phone2",
        "address",
        "zip",
        "city",
        "birthdate",
        "gender",
    ]
    assert not any(v.startswith("P000") for r in records[:500] for v in r.values())
    assert all(re.fullmatch(r"0[67]\d{8}", r["phone"]) for r in records)
    truth = read_truth(synth.truth["main"])
    assert all(t["source_key"] == "" for t in truth)


def test_main_leak_matches_registry_except_stale_fields(synth: SynthManifest) -> None:
    from synth_readers import read_registry

    registry = {r["id_personne"]: r for r in read_registry(synth.registry)}
    records = read_main(synth.main_leak)
    truth = read_truth(synth.truth["main"])
    pairs = [
        (registry[t["person_id"]], r) for t, r in zip(truth, records, strict=True) if t["person_id"]
    ]
    assert all(p["nir"] == r["ssn"] and p["identifiant"] == r["agency_id"] for p, r in pairs)
    stale = sum(p["email"] != r["email"] for p, r in pairs) / len(pairs)
    assert 0.01 < stale < 0.06


def test_every_email_uses_a_reserved_domain(synth: SynthManifest) -> None:
    emails = EMAIL.findall(_all_text(synth))
    assert len(emails) > PEOPLE
    assert all(RESERVED.search(e) for e in emails), [e for e in emails if not RESERVED.search(e)][
        :5
    ]


def test_telecom_is_really_cp1252(synth: SynthManifest) -> None:
    raw = synth.earlier_leaks["telecom"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    for char in "éèç’€–":
        assert char in text
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"\x80" in raw and b"\x92" in raw  # € and ’: cp1252, not latin-1
    assert text.splitlines()[0].startswith("id_client;NOM;PRENOM;TEL;EMAIL;ADRESSE;CP;VILLE;")
    assert "\r\n" in text


def test_telecom_noise(synth: SynthManifest) -> None:
    records = read_telecom(synth.earlier_leaks["telecom"])
    styles = Counter(_phone_style(r["TEL"]) for r in records if r["TEL"])
    assert set(styles) >= {"spaced", "+33", "0033", "dotted", "compact"}
    assert all(
        re.fullmatch(r"\d\d/\d\d/\d{4}", r["DATE_NAISSANCE"])
        for r in records
        if r["DATE_NAISSANCE"]
    )
    assert any(
        re.search(r"\b(r\.|av\.|bd|ch\.|imp\.)\s", r["ADRESSE"], re.IGNORECASE) for r in records
    )
    assert any(r["EMAIL"] == "" for r in records)


def _phone_style(phone: str) -> str:
    if phone.startswith("+33"):
        return "+33"
    if phone.startswith("0033"):
        return "0033"
    if "." in phone:
        return "dotted"
    return "spaced" if " " in phone else "compact"


def test_retail_lines_parse_with_missing_keys_and_mixed_formats(synth: SynthManifest) -> None:
    records = read_retail(synth.earlier_leaks["retail"])
    keys = Counter(k for r in records for k in r)
    assert keys["customer_id"] == keys["first_name"] == len(records)
    assert keys["phone"] < len(records) and keys["birth_date"] < len(records)
    dates = [r["birth_date"] for r in records if "birth_date" in r]
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in dates)
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", d) for d in dates)
    assert any(re.fullmatch(r"\d{8}", d) for d in dates)
    emails = [r["email"] for r in records if "email" in r]
    assert any("+" in e for e in emails)
    assert any(e != e.lower() for e in emails)
    assert any(isinstance(r["postcode"], int) for r in records)


def test_health_dump_parses_with_mysql_escaping(synth: SynthManifest) -> None:
    text = synth.earlier_leaks["health"].read_text(encoding="utf-8")
    assert "CREATE TABLE `assures`" in text and text.rstrip().endswith("2:17:45")
    columns, rows, sizes = parse_inserts(text)
    assert columns == [
        "id",
        "nom",
        "prenom",
        "nir",
        "date_naissance",
        "adresse",
        "code_postal",
        "ville",
    ]
    assert len(rows) == len(read_truth(synth.truth["health"]))
    assert all(s == 1000 for s in sizes[:-1]) and 0 < sizes[-1] <= 1000
    assert "\\'" in text and "\\\\" in text
    assert any(r[3] is None for r in rows)  # NULL NIR
    nirs = [r[3] for r in rows if r[3]]
    assert any(" " in n for n in nirs)
    assert any("\\" in (r[5] or "") for r in rows)
    assert any("'" in (r[1] or "") + (r[5] or "") for r in rows)


def test_health_nirs_mostly_valid_some_wrong_keys(synth: SynthManifest) -> None:
    from stdnum.fr import nir as stdnir

    rows = _read_health(synth.earlier_leaks["health"])
    nirs = [r["nir"] for r in rows if r["nir"]]
    invalid = sum(not stdnir.is_valid(n) for n in nirs) / len(nirs)
    assert 0.0 < invalid < 0.03
    assert len(nirs) / len(rows) > 0.85


def test_forum_zip_csv(synth: SynthManifest) -> None:
    with zipfile.ZipFile(synth.earlier_leaks["forum"]) as archive:
        assert archive.namelist() == ["users.csv"]
        raw = archive.read("users.csv")
    assert raw.startswith(b'\xef\xbb\xbf"user_id",')
    records = read_forum(synth.earlier_leaks["forum"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["password_md5"]) for r in records)
    hashes = Counter(r["password_md5"] for r in records)
    assert hashes.most_common(1)[0][1] > 1  # "123456" and friends
    assert all(
        r["ip"].startswith(("100.", "192.0.2.", "198.51.100.", "203.0.113.")) for r in records
    )


def test_earlier_leak_noise(synth: SynthManifest) -> None:
    from synth_readers import read_registry

    registry = {r["id_personne"]: r for r in read_registry(synth.registry)}
    records = read_telecom(synth.earlier_leaks["telecom"])
    truth = read_truth(synth.truth["telecom"])
    pairs = [
        (registry[t["person_id"]], r) for t, r in zip(truth, records, strict=True) if t["person_id"]
    ]
    exact = sum(p["prenom"] == r["PRENOM"] for p, r in pairs)
    swapped = sum(p["prenom"].upper() == r["NOM"].replace("’", "'") for p, r in pairs)
    unaccented = sum(
        p["prenom"] != r["PRENOM"]
        and p["prenom"].upper() != r["PRENOM"]
        and not re.search("[À-ÿ]", r["PRENOM"])
        for p, r in pairs
    )
    old_address = sum(
        p["adresse"] != r["ADRESSE"] and p["code_postal"] != r["CP"] for p, r in pairs
    )
    assert exact > len(pairs) / 3 and swapped > 0 and unaccented > 0 and old_address > 0


def test_outsiders_recur_across_earlier_leaks(synth: SynthManifest) -> None:
    seen = [
        {t["identity_id"] for t in read_truth(synth.truth[name]) if not t["person_id"]}
        for name in ("telecom", "retail", "health", "forum")
    ]
    assert len(seen[0] & seen[1]) > 100 and len(seen[0] & seen[1] & seen[2]) > 10


def test_registry_people_keep_their_number_as_identity(synth: SynthManifest) -> None:
    for name in SPECS:
        for t in read_truth(synth.truth[name]):
            if t["person_id"]:
                assert t["identity_id"][1:] == t["person_id"][1:].rjust(9, "0")
            else:
                assert int(t["identity_id"][1:]) > PEOPLE
