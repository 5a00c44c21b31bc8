from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from breachwatch.errors import KeyError_, WorkspaceError
from breachwatch.store.schema import create_schema
from breachwatch.store.workspace import (
    DB_FILE,
    default_key_file,
    init_workspace,
    open_workspace,
    workspace_id,
)

SECRET = "Zoé.Vasseur-Ropital@example.org"


def _write_secret(home: Path) -> None:
    with open_workspace(home) as ws:
        ws.con.execute("CREATE TABLE secret AS SELECT ? AS email FROM range(1000)", [SECRET])
        ws.con.execute("CHECKPOINT")


def test_init_puts_the_key_outside_the_workspace(ws_home: Path) -> None:
    key_file = default_key_file(workspace_id(ws_home))
    assert key_file.is_file()
    assert not key_file.resolve().is_relative_to(ws_home.resolve())
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(key_file.read_text().strip()) == 64


def test_database_file_holds_no_plaintext(ws_home: Path) -> None:
    _write_secret(ws_home)
    blob = (ws_home / DB_FILE).read_bytes()
    assert SECRET.encode() not in blob
    assert b"Vasseur" not in blob
    with open_workspace(ws_home) as ws:
        assert ws.con.execute("SELECT count(*) FROM secret").fetchone() == (1000,)


def test_missing_key_is_a_clear_error(ws_home: Path) -> None:
    default_key_file(workspace_id(ws_home)).unlink()
    with pytest.raises(KeyError_, match="no encryption key"):
        open_workspace(ws_home)


def test_wrong_key_is_a_clear_error(ws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_secret(ws_home)
    monkeypatch.setenv("BREACHWATCH_KEY", "00" * 32)
    with pytest.raises(KeyError_, match="encryption key"):
        open_workspace(ws_home)


def test_key_file_inside_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ws"
    monkeypatch.setenv("BREACHWATCH_KEY_FILE", str(home / "key"))
    with pytest.raises(KeyError_, match="outside the data directory"):
        init_workspace(home)


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACHWATCH_KEY", "ab" * 32)
    home = init_workspace(tmp_path / "ws")
    _write_secret(home)
    monkeypatch.setenv("BREACHWATCH_KEY", "cd" * 32)
    with pytest.raises(KeyError_):
        open_workspace(home)


def test_opening_a_non_workspace_says_to_init(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="breachwatch init"):
        open_workspace(tmp_path / "nothing-here")


def test_an_older_records_table_gets_the_new_slots() -> None:
    """A workspace made before full_name and birth_year existed: its records table gains them
    (NULL in the old rows) when the schema is created again at open."""
    con = duckdb.connect()
    con.execute("CREATE TABLE records (record_uid BIGINT, breach VARCHAR)")
    con.execute("INSERT INTO records VALUES (1, 'old')")
    create_schema(con)
    row = con.execute("SELECT full_name, full_name_valid, full_name_match, birth_year FROM records")
    assert row.fetchall() == [(None, None, None, None)]
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'records'"
        ).fetchall()
    )
    assert types["birth_year"] == "INTEGER"


_SPILLER = """
import sys, time
from pathlib import Path
from breachwatch.store.workspace import open_workspace
ws = open_workspace(Path(sys.argv[1]))
ws.con.execute("SET memory_limit = '64MB'")
ws.con.execute("SET threads = 1")
# A sort far larger than the limit: DuckDB spills it, then this process is killed mid-way.
ws.con.execute(
    "CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(6000000) ORDER BY h"
)
"""


def test_a_workspace_killed_while_spilling_opens_again(ws_home: Path) -> None:
    """kill -9 during a spilling query leaves its spill files behind; the next process opens the
    workspace (DuckDB refuses to start over temp files it did not write) and removes them."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _SPILLER, str(ws_home)])
    spill_dir = ws_home / "tmp" / f"{proc.pid}"
    deadline = time.monotonic() + 60
    spilled: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None and not spilled:
        spilled = [p for d in (ws_home / "tmp").glob(f"{proc.pid}-*") for p in d.iterdir()]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert spilled, f"the query finished without spilling into {spill_dir}-*"
    with open_workspace(ws_home) as ws:
        assert ws.con.execute("SELECT 42").fetchone() == (42,)
        left = [p for p in (ws_home / "tmp").iterdir() if p != ws.temp]
    assert left == []
    assert not any((ws_home / "tmp").iterdir())  # its own directory went on close


def test_two_readers_spill_apart(ws_home: Path) -> None:
    _write_secret(ws_home)
    with open_workspace(ws_home, read_only=True) as a, open_workspace(ws_home, read_only=True) as b:
        assert a.temp != b.temp
        assert a.temp.parent == b.temp.parent == ws_home / "tmp"
