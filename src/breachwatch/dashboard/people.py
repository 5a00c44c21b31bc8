"""A sealed per-person file for the dashboard's look-ups: one B-tree seek instead of opening the
workspace and scanning tens of millions of rows for each look-up.

``<workspace>/dashboard/people.sqlite`` holds, per registry person who is in at least one
breach, the look-up view (registry row, breaches, exposure, risks) as AES-256-GCM-sealed JSON,
keyed by an HMAC of the record id. Both keys are derived (HKDF-SHA256) from the workspace key,
so the file is as protected as the workspace itself: without the key it reveals only the number
of people. Built set-based by ``breachwatch dashboard refresh``; replaced atomically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from breachwatch.risk.payload import EXPOSURE_GROUPS_SQL, with_expanded_exposure
from breachwatch.store.workspace import Workspace, resolve_key, table_exists, uid_ranges

FILE = Path("dashboard") / "people.sqlite"
BATCH = 20_000
CHUNK_PEOPLE = 500_000  # people per pass of the view query: its memory is that of a chunk
# Every query below reads one range of registry uids, [$lo, $hi].
_REGISTRY = """
    SELECT r.record_uid, r.record_id, r.first_name, r.last_name, r.birth_name,
           CAST(r.date_of_birth AS VARCHAR) AS date_of_birth, r.nir, r.agency_id, r.email,
           r.phone, r.phone_2, r.postal_address, r.postal_code, r.city
    FROM records r JOIN breaches b ON b.name = r.breach
    WHERE b.role = 'registry' AND r.record_uid BETWEEN $lo AND $hi
      AND r.record_uid IN (SELECT registry_uid FROM affected
                           WHERE registry_uid BETWEEN $lo AND $hi)
"""
REGISTRY_FIELDS = (
    "record_id",
    "first_name",
    "last_name",
    "birth_name",
    "date_of_birth",
    "nir",
    "agency_id",
    "email",
    "phone",
    "phone_2",
    "postal_address",
    "postal_code",
    "city",
)


def _keys(ws_key: str) -> tuple[bytes, bytes]:
    material = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"breachwatch-dashboard-people-v1"
    ).derive(ws_key.encode())
    return material[:32], material[32:]


def _lookup_key(mac_key: bytes, record_id: str) -> bytes:
    return hmac.new(mac_key, record_id.encode(), hashlib.sha256).digest()[:16]


def _view_sql(ws: Workspace) -> str:
    """Lists are sorted with ``list_sort`` (structs sort by their first field, then the next)
    rather than by ordered aggregates, which cost about three times as much."""
    exposure = (
        f"({EXPOSURE_GROUPS_SQL})"
        if table_exists(ws, "exposure")
        else "(SELECT NULL::BIGINT AS registry_uid, [] AS exposure_groups WHERE false)"
    )
    risk = (
        """(SELECT registry_uid, list_sort(list({'level': level, 'id': risk})) AS risks
                  FROM risk WHERE registry_uid BETWEEN $lo AND $hi GROUP BY registry_uid)"""
        if table_exists(ws, "risk")
        else "(SELECT NULL::BIGINT AS registry_uid, [] AS risks WHERE false)"
    )
    fields = ", ".join(f"'{f}': coalesce(CAST(g.{f} AS VARCHAR), '')" for f in REGISTRY_FIELDS)
    return f"""
        WITH g AS ({_REGISTRY}),
        a AS (SELECT registry_uid, list_sort(list({{'breach': breach,
                     'data_classes': data_classes, 'route': match_route,
                     'probability': round(match_probability, 4),
                     'records': len(leak_uids)}})) AS breaches
              FROM affected WHERE registry_uid BETWEEN $lo AND $hi GROUP BY registry_uid),
        e AS {exposure},
        k AS {risk}
        SELECT g.record_id, to_json({{
            'registry': {{{fields}}},
            'breaches': coalesce(a.breaches, []),
            'exposure_groups': coalesce(e.exposure_groups, []),
            'risks': coalesce(k.risks, [])
        }})::VARCHAR
        FROM g LEFT JOIN a ON a.registry_uid = g.record_uid
        LEFT JOIN e ON e.registry_uid = g.record_uid
        LEFT JOIN k ON k.registry_uid = g.record_uid
        WHERE g.record_id IS NOT NULL
    """


def build(ws: Workspace) -> int:
    """Writes the file; returns the number of people in it."""
    seal_key, mac_key = _keys(resolve_key(ws.home, ws.settings))
    aead = AESGCM(seal_key)
    target = ws.home / FILE
    target.parent.mkdir(exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    # Rows are appended in the order they come (rowid order) and the index on the key is
    # built once at the end: keys are HMACs, so inserting into a table ordered by them wrote
    # at a random place of an ever larger file each time (at 17.6 M people, 80 MB a minute).
    db.executescript(
        """PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
           CREATE TABLE people (key BLOB NOT NULL, sealed BLOB NOT NULL);"""
    )

    def seal(batch: tuple[list[str], list[str]]) -> list[tuple[bytes, bytes]]:
        out = []
        for record_id, body in zip(*batch, strict=True):
            key = _lookup_key(mac_key, record_id)
            nonce = os.urandom(12)
            out.append((key, nonce + aead.encrypt(nonce, body.encode(), key)))
        return out

    count = 0

    def write(done: Future[list[tuple[bytes, bytes]]]) -> None:
        nonlocal count
        rows = done.result()
        db.executemany("INSERT INTO people VALUES (?, ?)", rows)
        count += len(rows)

    workers = os.cpu_count() or 1
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # At most two batches per thread in flight (Executor.map would read them all).
            pending: deque[Future[list[tuple[bytes, bytes]]]] = deque()
            for batch in _batches(ws, _view_sql(ws)):
                pending.append(pool.submit(seal, batch))
                while len(pending) > 2 * workers or (pending and pending[0].done()):
                    write(pending.popleft())
            while pending:
                write(pending.popleft())
        db.execute("PRAGMA cache_size = -262144")  # 256 MB for the index build's sort
        db.execute("CREATE INDEX people_key ON people (key)")
        # A record id held twice in the registry: the last row wins, as one look-up shows one.
        db.execute(
            "DELETE FROM people WHERE rowid NOT IN (SELECT max(rowid) FROM people GROUP BY key)"
        )
        count = int(db.execute("SELECT count(*) FROM people").fetchone()[0])
        db.commit()
        db.close()
        os.replace(partial, target)
    except BaseException:
        db.close()
        partial.unlink(missing_ok=True)
        raise
    return count


def _batches(ws: Workspace, sql: str) -> Iterator[tuple[list[str], list[str]]]:
    for lo, hi in uid_ranges(ws.con, "SELECT DISTINCT registry_uid FROM affected", CHUNK_PEOPLE):
        for batch in ws.con.execute(sql, {"lo": lo, "hi": hi}).fetch_record_batch(BATCH):
            yield batch.column(0).to_pylist(), batch.column(1).to_pylist()


class PeopleFile:
    """Read side, one SQLite connection per thread."""

    def __init__(self, home: Path, settings: dict[str, Any]) -> None:
        self.path = home / FILE
        self.seal_key, self.mac_key = _keys(resolve_key(home, settings))
        self._local = threading.local()

    def exists(self) -> bool:
        return self.path.is_file()

    def get(self, record_id: str) -> dict[str, Any] | None:
        db = getattr(self._local, "db", None)
        mtime = self.path.stat().st_mtime
        if db is None or getattr(self._local, "mtime", None) != mtime:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self._local.db, self._local.mtime = db, mtime
        key = _lookup_key(self.mac_key, record_id)
        row = db.execute("SELECT sealed FROM people WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        sealed: bytes = row[0]
        body = AESGCM(self.seal_key).decrypt(sealed[:12], sealed[12:], key)
        return with_expanded_exposure(json.loads(body))
