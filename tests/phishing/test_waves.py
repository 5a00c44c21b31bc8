"""Reports grouped into waves: near-duplicate texts, shared indicators, merges, time series,
the LSH index rebuilt from the database, and the ``report``/``waves`` commands."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from breachwatch.cli import app as cli_app
from breachwatch.errors import BreachwatchError, UsageError
from breachwatch.phishing import waves as waves_module
from breachwatch.phishing.reports import file_report, utc_now
from breachwatch.phishing.store import (
    PhishingReport,
    engine,
    open_report,
    report_keys,
    without_recipient,
)
from breachwatch.phishing.waves import list_waves, normalise, wave_detail, wave_index

pytest_plugins = ["tests.phishing.service"]  # fixtures: phishing_home, settings

# One campaign, as three victims received it: other names, links, amounts, dates, numbers.
CAMPAIGN = [
    "France Travail : Jean, votre dossier est incomplet. Mettez à jour votre dossier avant le "
    "30/11 pour éviter la suspension de vos droits : https://francetravail-dossier.fr/maj",
    "FRANCE TRAVAIL : Marie, votre dossier est incomplet. Mettez a jour votre dossier avant le "
    "02/12 pour eviter la suspension de vos droits : https://ft-maj-dossier.com/u/8812",
    "France Travail : Ahmed, votre dossier est incomplet. Mettez à jour votre dossier avant le "
    "4 décembre pour éviter la suspension de vos droits : http://maj-droits.info/?id=55",
]
PARCEL = (
    "Colissimo : votre colis n'a pas pu être livré. Des frais de réexpédition de 1,99 EUR sont à "
    "régler sur https://colis-relais-suivi.top/p avant sa destruction."
)
ORDINARY = "Salut, on se retrouve demain à 19h devant le cinéma ? Dis-moi si tu es toujours ok."
# A different text that only shares the campaign's first domain.
SAME_DOMAIN = (
    "Aide exceptionnelle de 250 euros : faites votre demande sur francetravail-dossier.fr/aide"
)


def _file(settings: dict[str, Any], text: str, **options: Any) -> Any:
    return file_report(settings, text, channel=options.pop("channel", "cli"), **options)


def test_normalise_makes_the_per_victim_parts_alike() -> None:
    first, second = normalise(CAMPAIGN[0]), normalise(CAMPAIGN[1])
    assert "_url_" in first and "_num_" in first
    assert "eviter" in first and "éviter" not in first  # accents stripped, lower case
    assert [w for w in first if w != "jean"] == [w for w in second if w != "marie"]
    assert normalise("Code BW-7K2M-Q9XP-4R8T, écrivez à a.b@example.org") == [
        "code",
        "_code_",
        "ecrivez",
        "a",
        "_mail_",
    ]


def test_near_duplicates_join_one_wave_and_unrelated_messages_do_not(
    settings: dict[str, Any],
) -> None:
    filed = [_file(settings, text) for text in CAMPAIGN]
    assert filed[0].new_wave and not filed[1].new_wave and not filed[2].new_wave
    assert {f.wave_id for f in filed} == {filed[0].wave_id}
    parcel, ordinary = _file(settings, PARCEL), _file(settings, ORDINARY)
    assert parcel.new_wave and ordinary.new_wave
    assert len({filed[0].wave_id, parcel.wave_id, ordinary.wave_id}) == 3


def test_a_shared_domain_links_otherwise_different_messages(settings: dict[str, Any]) -> None:
    first = _file(settings, CAMPAIGN[0])
    other = _file(settings, SAME_DOMAIN)
    assert not other.new_wave and other.wave_id == first.wave_id


def test_a_shared_phone_number_links_messages(settings: dict[str, Any]) -> None:
    first = _file(
        settings, "Votre conseiller vous attend : rappelez-le au 06 39 98 44 10 avant midi."
    )
    other = _file(settings, "Dernier rappel, amende impayée. Contactez le +33 6 39 98 44 10.")
    assert other.wave_id == first.wave_id


def test_official_domains_and_shared_shorteners_do_not_link(settings: dict[str, Any]) -> None:
    one = _file(
        settings, "Rendez-vous confirmé, détails sur francetravail.fr et bit.ly/abc123 merci"
    )
    two = _file(settings, "Votre colis arrive, suivez-le sur bit.ly/zz9988 ou sur francetravail.fr")
    assert two.wave_id != one.wave_id
    same_link = _file(settings, "Regardez bit.ly/abc123 vite, c'est important pour vous tous")
    assert same_link.wave_id == one.wave_id  # the same short link is the same campaign


def test_a_report_linking_two_waves_merges_them_into_the_older(settings: dict[str, Any]) -> None:
    older = _file(settings, CAMPAIGN[0])
    younger = _file(
        settings, "Votre colis est bloqué, appelez vite le 06 39 98 77 21 pour le débloquer."
    )
    assert younger.wave_id != older.wave_id
    bridge = _file(settings, "Nouveau site francetravail-dossier.fr/x, ou appelez le 0639987721.")
    assert bridge.wave_id == older.wave_id
    detail = wave_detail(settings, younger.wave_id)  # the old id still finds its wave
    assert detail is not None and detail["id"] == older.wave_id
    assert detail["merged_from"] == [younger.wave_id] and detail["reports"] == 3
    assert [w.id for w in list_waves(settings)] == [older.wave_id]
    assert _file(settings, CAMPAIGN[1]).wave_id == older.wave_id


def test_counts_over_time_verdicts_and_top_indicators(settings: dict[str, Any]) -> None:
    # 10:05 two days ago: the first three reports fall on one day whatever the time of the run
    # (from a start after 23:00 the third crossed midnight).
    start = (utc_now() - timedelta(days=2)).replace(hour=10, minute=5, second=0, microsecond=0)
    moments = [
        start,
        start + timedelta(minutes=20),
        start + timedelta(hours=1),
        start + timedelta(days=1),
    ]
    for moment, text in zip(moments, [*CAMPAIGN, CAMPAIGN[0]], strict=True):
        _file(settings, text, received_at=moment)
    [summary] = list_waves(settings)
    assert summary.reports == 4 and summary.first_seen == start
    assert summary.last_seen == moments[-1]
    assert summary.verdicts == {"phishing": 4}
    assert summary.indicators[0] == {
        "type": "domain",
        "value": "francetravail-dossier.fr",
        "reports": 2,
    }
    detail = wave_detail(settings, summary.id)
    assert detail is not None
    hour = start.replace(minute=0)
    assert detail["per_hour"] == [
        {"start": hour.isoformat() + "Z", "reports": 2},
        {"start": (hour + timedelta(hours=1)).isoformat() + "Z", "reports": 1},
        {"start": (hour + timedelta(days=1)).isoformat() + "Z", "reports": 1},
    ]
    assert [d["reports"] for d in detail["per_day"]] == [3, 1]
    assert detail["example"]["text"] == CAMPAIGN[0] and detail["example"]["kind"] == "sms"
    assert list_waves(settings, since=moments[-1] + timedelta(seconds=1)) == []


def test_the_lsh_index_is_rebuilt_from_the_database(settings: dict[str, Any]) -> None:
    first = _file(settings, CAMPAIGN[0])
    waves_module._INDEXES.clear()  # a restart: nothing in memory
    assert _file(settings, CAMPAIGN[1]).wave_id == first.wave_id
    assert set(wave_index(settings).signatures) == {1, 2}


def test_another_process_reports_are_picked_up(settings: dict[str, Any]) -> None:
    _file(settings, PARCEL)
    ours = wave_index(settings)
    waves_module._INDEXES.clear()  # what another process, with its own index, files next
    other = _file(settings, CAMPAIGN[0])
    waves_module._INDEXES[str(engine(settings).url)] = ours  # back to our stale index
    assert _file(settings, CAMPAIGN[2]).wave_id == other.wave_id


def test_near_copies_are_not_added_to_the_index(settings: dict[str, Any]) -> None:
    for _ in range(5):
        _file(settings, CAMPAIGN[0])
    assert len(wave_index(settings).signatures) == 1
    assert list_waves(settings)[0].reports == 5


def test_short_texts_only_link_by_indicators(settings: dict[str, Any]) -> None:
    one = _file(settings, "Cliquez : https://aaa-example-one.top/x")
    two = _file(settings, "Cliquez : https://bbb-example-two.top/y")
    assert one.wave_id != two.wave_id


def test_concurrent_reports_end_in_one_consistent_wave(settings: dict[str, Any]) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                _file(settings, CAMPAIGN[(n + i) % 3])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    [wave] = list_waves(settings)
    assert wave.reports == 16


def test_same_reporter_same_message_is_one_report(settings: dict[str, Any]) -> None:
    first = _file(settings, CAMPAIGN[0], channel="web", reporter_ip="203.0.113.7")
    again = _file(settings, CAMPAIGN[0], channel="web", reporter_ip="203.0.113.7")
    other_person = _file(settings, CAMPAIGN[0], channel="web", reporter_ip="203.0.113.8")
    assert again.duplicate and again.report_id == first.report_id
    assert not other_person.duplicate and list_waves(settings)[0].reports == 2


def test_what_is_stored_keeps_no_reporter_and_no_plain_message(settings: dict[str, Any]) -> None:
    eml = (
        "Received: from mx.example.net by mx.example.org for <jean.dupont@example.org>; "
        "Mon, 1 Dec 2025 10:00:00 +0000\r\n"
        "From: France Travail <contact@francetravail-aide.fr>\r\n"
        "To: Jean Dupont <jean.dupont@example.org>\r\n"
        "Delivered-To: jean.dupont@example.org\r\n"
        "Subject: Dossier incomplet\r\n\r\n"
        "Mettez à jour votre dossier sur https://francetravail-aide.fr/x\r\n"
    )
    _file(settings, eml, channel="web", reporter_ip="198.51.100.23")
    with Session(engine(settings)) as s:
        stored = s.scalars(select(PhishingReport)).one()
        assert stored.kind == "email" and stored.reporter and "198.51" not in stored.reporter
        assert b"jean.dupont" not in stored.sealed and b"Mettez" not in stored.sealed
        opened = open_report(report_keys(settings), stored.sealed)
    assert b"Mettez" in opened.message and b"jean.dupont" not in opened.message
    assert b"for <redacted>" in opened.message
    assert opened.result["verdict"] == stored.verdict == "phishing"


def test_without_recipient_keeps_everything_else() -> None:
    raw = (
        b"From: a@example.net\nTo: b@example.org,\n  c@example.org\nCc: d@example.org\n"
        b"Subject: to: me\n\nTo: this line is body text\n"
    )
    assert without_recipient(raw) == (
        b"From: a@example.net\nSubject: to: me\n\nTo: this line is body text\n"
    )


def test_received_at_is_checked_and_an_email_date_is_used(settings: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="received_at"):
        _file(settings, CAMPAIGN[0], received_at=utc_now() + timedelta(days=2))
    sent = (utc_now() - timedelta(days=3)).replace(microsecond=0)
    eml = (
        f"From: x@francetravail-aide.fr\r\nTo: y@example.org\r\n"
        f"Date: {sent:%a, %d %b %Y %H:%M:%S} +0000\r\nSubject: Dossier\r\n\r\nMettez à jour.\r\n"
    )
    _file(settings, eml)
    assert list_waves(settings)[0].first_seen == sent


# -- the commands --------------------------------------------------------------------------


def _cli(home: Path, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli_app, ["-w", str(home), "phishing", *args], input=stdin)


def test_report_and_waves_commands(ws_home: Path, tmp_path: Path) -> None:
    sms = tmp_path / "sms.txt"
    sms.write_text(CAMPAIGN[0], encoding="utf-8")
    done = _cli(ws_home, "report", str(sms), "--json")
    assert done.exit_code == 0, done.output
    first = json.loads(done.stdout)
    assert first["new_wave"] and first["verdict"] == "phishing"
    again = json.loads(_cli(ws_home, "report", "-", "--json", stdin=CAMPAIGN[1]).stdout)
    assert again["wave_id"] == first["wave_id"] and not again["new_wave"]
    listed = _cli(ws_home, "waves", "--json")
    assert listed.exit_code == 0, listed.output
    [wave] = json.loads(listed.stdout)["waves"]
    assert wave["id"] == first["wave_id"] and wave["reports"] == 2
    assert wave["verdicts"] == {"phishing": 2}
    assert {"first_seen", "last_seen", "top_indicators"} <= set(wave)
    tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
    assert json.loads(_cli(ws_home, "waves", "--json", "--since", tomorrow).stdout) == {"waves": []}
    table = subprocess.run(
        [sys.executable, "-m", "breachwatch.cli", "-w", str(ws_home), "phishing", "waves"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert table.returncode == 0, table.stderr
    assert "francetravail-dossier.fr (1)" in table.stdout and "2 phishing" in table.stdout


def _exit_code(done: Any) -> int:
    """The exit code ``breachwatch`` gives for the error (``main`` maps it; CliRunner does not)."""
    error = done.exception
    return error.exit_code if isinstance(error, BreachwatchError) else int(done.exit_code)


def test_commands_refuse_bad_input(ws_home: Path, tmp_path: Path) -> None:
    assert _exit_code(_cli(ws_home, "report", "-", "--kind", "fax", stdin="x")) == 2
    assert _exit_code(_cli(ws_home, "report", "-", "--channel", "web", stdin="x")) == 2
    assert _exit_code(_cli(ws_home, "report", "-", stdin="   ")) == 2
    assert _exit_code(_cli(ws_home, "waves", "--since", "yesterday")) == 2
    assert _exit_code(_cli(tmp_path / "nowhere", "waves")) == 3


@pytest.mark.parametrize("command", ["report", "waves", "export"])
def test_the_docs_show_the_current_help(command: str) -> None:
    root = Path(__file__).parents[2]
    spec = importlib.util.spec_from_file_location("gen", root / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    doc = (root / "docs" / "phishing.md").read_text(encoding="utf-8")
    assert gen.help_text(["phishing", command]) in doc, f"paste `phishing {command} --help`"
