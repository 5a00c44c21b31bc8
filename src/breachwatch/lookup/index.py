"""The lookup index of one breach: every identifier of every affected person, as OPRF output.

File ``<workspace>/lookup/<breach>.index`` (SQLite, read-only once built):

- ``entries(bucket, tag, person, kind)``: ``tag`` = the first 16 bytes of OPRF(key, canonical
  identifier) (RFC 9497, ristretto255-SHA512); ``bucket`` = a keyed hash (HMAC under the seal
  key) of the identifier's bucket prefix (identifiers.py), so the file does not even tell which
  prefixes are occupied; sorted by (bucket, tag): a self-check is one B-tree seek and a
  partner's bucket one range.
- ``people(person, sealed)``: per person, AES-256-GCM-sealed JSON (data classes leaked in this
  breach, exposure across every leak, risk ids, the registry's contacts for a NIR check).
- ``meta``: breach, sensitive flag, key id, prefix bits, counts, build time.

No identifier appears in clear nor as a plain or salted hash: without the server key, testing a
guess against the index needs the server (rate-limited). Identifiers come from the registry row
of each affected person (e-mails, phones, NIR + date of birth) and from the leaked rows linked to
them (e-mails, phones): a person may type the address the attackers have.

Built set-based: DuckDB produces the identifiers and payloads in Arrow batches. The OPRF, most
of the cost, runs from the start in worker processes (one per core, evaluator.py), fed by a
background thread, while the calling thread computes the risks and seals the payloads; DuckDB
sorts the entries; SQLite stores them. The file appears atomically (written beside, then
renamed), so a running service never reads a half-built index.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from breachwatch.errors import UsageError, WorkspaceError
from breachwatch.lookup import evaluator, oprf
from breachwatch.lookup.evaluator import TAG_BYTES, bucket, bucket_key
from breachwatch.lookup.identifiers import Kind
from breachwatch.lookup.keys import LookupKeys, create_keys
from breachwatch.risk.exposure import ensure_affected, leaks
from breachwatch.risk.payload import EXPOSURE_GROUPS_SQL, with_expanded_exposure
from breachwatch.risk.rules import compute_risk
from breachwatch.store.workspace import Workspace, uid_ranges

FORMAT_VERSION = 2
BATCH_ROWS = 20_000
CHUNK_PEOPLE = 500_000  # people per pass of the identifier and payload queries
KIND_CODES = {Kind.EMAIL: 1, Kind.PHONE: 2, Kind.NIR: 3}

Progress = Callable[[str, int, int], None]


@dataclass
class IndexSummary:
    breach: str
    path: Path
    people: int = 0
    entries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    sensitive: bool = True
    key_id: str = ""
    prefix_bits: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "breach": self.breach,
            "path": str(self.path),
            "people": self.people,
            "entries": self.entries,
            "by_kind": self.by_kind,
            "sensitive": self.sensitive,
            "key_id": self.key_id,
            "prefix_bits": self.prefix_bits,
            "seconds": round(self.seconds, 2),
        }


def index_dir(home: Path) -> Path:
    return home / "lookup"


def index_path(home: Path, breach: str) -> Path:
    return index_dir(home) / f"{breach}.index"


# -- the SQL that produces identifiers and payloads -------------------------------------------

# A table, not a temporary one: the evaluating thread reads it through its own cursor. It only
# numbers the people (``affected`` holds one row per breach and person); what the payloads take
# from ``affected`` they read per chunk (``_PAYLOADS``). Aggregating the data classes here for
# everyone at once cost 5.2-6.3 CPU s at 1 M people; numbering alone costs 0.2.
_PEOPLE = """
    CREATE OR REPLACE TABLE bw_lookup_people AS
    SELECT row_number() OVER (ORDER BY registry_uid) AS person, registry_uid
    FROM affected WHERE breach = $breach
"""

_REGISTRY_IDS = """
    SELECT p.person, i.ident
    FROM bw_lookup_people p JOIN records r ON r.record_uid = p.registry_uid,
    LATERAL (SELECT unnest([
        CASE WHEN r.email_valid THEN 'email:' || r.email END,
        CASE WHEN r.email_2_valid THEN 'email:' || r.email_2 END,
        CASE WHEN r.phone_valid THEN 'phone:' || r.phone END,
        CASE WHEN r.phone_2_valid THEN 'phone:' || r.phone_2 END,
        CASE WHEN r.nir_valid AND r.date_of_birth IS NOT NULL
             THEN 'nir:' || r.nir || ':' || strftime(r.date_of_birth, '%Y-%m-%d') END
    ]) AS ident) i
    WHERE p.registry_uid BETWEEN $lo AND $hi AND r.record_uid BETWEEN $lo AND $hi
"""

_LEAKED_IDS = """
    SELECT p.person, i.ident
    FROM (SELECT registry_uid, unnest(leak_uids) AS leak_uid FROM affected
          WHERE breach = $breach AND registry_uid BETWEEN $lo AND $hi) l
    JOIN bw_lookup_people p USING (registry_uid)
    JOIN records r ON r.record_uid = l.leak_uid,
    LATERAL (SELECT unnest([
        CASE WHEN r.email_valid THEN 'email:' || r.email END,
        CASE WHEN r.email_2_valid THEN 'email:' || r.email_2 END,
        CASE WHEN r.phone_valid THEN 'phone:' || r.phone END,
        CASE WHEN r.phone_2_valid THEN 'phone:' || r.phone_2 END
    ]) AS ident) i
"""

_KIND_CODE = " ".join(f"WHEN '{k.value}' THEN {c}" for k, c in KIND_CODES.items())

# Everything below reads one chunk of people at a time, registry_uid in [$lo, $hi] (the people
# are numbered in registry_uid order, so a chunk is a range of both): memory stays that of a
# chunk however large the breach, and the registry's rows, stored in uid order, are read by
# range.
_IDENTIFIERS = f"""
    SELECT person, ident, (CASE split_part(ident, ':', 1) {_KIND_CODE} END)::TINYINT AS kind
    FROM (SELECT DISTINCT person, ident FROM (({_REGISTRY_IDS}) UNION ALL ({_LEAKED_IDS}))
          WHERE ident IS NOT NULL)
    ORDER BY person, ident
"""


ENTRY_SCHEMA = pa.schema(
    [
        ("bucket", pa.int64()),
        ("tag", pa.binary(TAG_BYTES)),
        ("person", pa.int64()),
        ("kind", pa.int8()),
    ]
)

_MOBILE = "(starts_with({c}, '+336') OR starts_with({c}, '+337'))"

# Lists sorted with list_sort rather than ordered aggregates (three times cheaper at 200 k
# people); the exposure comes grouped (risk/payload.py). ``affected.data_classes`` is stored
# sorted and distinct (linkage/affected.py), as the payload gives it.
_PAYLOADS = f"""
    WITH exp AS ({EXPOSURE_GROUPS_SQL}),
    rk AS (SELECT registry_uid, list_sort(list(DISTINCT risk)) AS risks FROM risk
           WHERE registry_uid BETWEEN $lo AND $hi GROUP BY registry_uid)
    SELECT p.person, to_json({{
        'record_id': a.record_id,
        'classes': a.data_classes,
        'exposure_groups': coalesce(exp.exposure_groups, []),
        'risks': coalesce(rk.risks, []),
        'email': CASE WHEN r.email_valid THEN r.email END,
        'mobile': CASE WHEN r.phone_valid AND {_MOBILE.format(c="r.phone")} THEN r.phone
                       WHEN r.phone_2_valid AND {_MOBILE.format(c="r.phone_2")} THEN r.phone_2
                  END
    }})::VARCHAR AS payload
    FROM bw_lookup_people p
    JOIN affected a ON a.registry_uid = p.registry_uid
    JOIN records r ON r.record_uid = p.registry_uid
    LEFT JOIN exp ON exp.registry_uid = p.registry_uid
    LEFT JOIN rk ON rk.registry_uid = p.registry_uid
    WHERE p.registry_uid BETWEEN $lo AND $hi AND r.record_uid BETWEEN $lo AND $hi
      AND a.breach = $breach AND a.registry_uid BETWEEN $lo AND $hi
    ORDER BY p.person
"""


# -- sealing --------------------------------------------------------------------------------


def _seal_batch(
    aead: AESGCM, aad: bytes, persons: list[int], payloads: list[str]
) -> list[tuple[int, bytes]]:
    nonces = os.urandom(12 * len(persons))  # one system call per batch, not one per person
    out = []
    for i, (person, text) in enumerate(zip(persons, payloads, strict=True)):
        nonce = nonces[12 * i : 12 * i + 12]
        out.append((person, nonce + aead.encrypt(nonce, text.encode(), aad + str(person).encode())))
    return out


def payload_aad(breach: str) -> bytes:
    return f"breachwatch-index-v{FORMAT_VERSION}\x00{breach}\x00".encode()


# -- building --------------------------------------------------------------------------------


def build_index(
    ws: Workspace,
    breach: str,
    *,
    sensitive: bool | None = None,
    rotate_key: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> IndexSummary:
    started = time.perf_counter()
    if breach not in leaks(ws):
        raise UsageError(f"breach {breach!r} is not an ingested leak")
    settings = ws.settings
    bits = int(settings["lookup_prefix_bits"])
    if not 1 <= bits <= 32:
        raise UsageError(f"lookup_prefix_bits must be between 1 and 32, got {bits}")
    keys = create_keys(settings, rotate=rotate_key)
    if sensitive is not None:
        ws.con.execute("UPDATE breaches SET sensitive = ? WHERE name = ?", [sensitive, breach])
    flag = ws.con.execute("SELECT sensitive FROM breaches WHERE name = ?", [breach]).fetchone()
    summary = IndexSummary(
        breach,
        index_path(ws.home, breach),
        sensitive=bool(flag[0]) if flag and flag[0] is not None else True,
        key_id=keys.key_id,
        prefix_bits=bits,
    )
    report = progress or (lambda label, done, total: None)

    # Links first (a no-op when they are current): the identifiers read them while the risks
    # are computed, and the risks would otherwise relink under the evaluating thread's feet.
    ensure_affected(ws)
    con = ws.con
    con.execute(_PEOPLE, {"breach": breach})
    summary.people = _count(con, "SELECT count(*) FROM bw_lookup_people")
    chunks = uid_ranges(con, "SELECT registry_uid FROM bw_lookup_people", CHUNK_PEOPLE)

    target = summary.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    entries_file = target.with_name(target.name + ".entries.parquet")
    for stale in (partial, entries_file):
        stale.unlink(missing_ok=True)
    db = _create_db(partial)
    try:
        with _Evaluation(keys, bits, workers) as evaluation:
            evaluation.start(ws.cursor(), breach, chunks, entries_file, summary.people, report)
            report("risk", 0, 1)
            compute_risk(ws, breach)
            report("risk", 1, 1)
            _write_people(con, db, AESGCM(keys.seal_key), breach, chunks, summary.people, report)
            evaluation.wait()
        summary.entries, summary.by_kind = _write_entries(
            con, db, entries_file, evaluation.done, report
        )
        _write_meta(db, summary)
        db.execute("ANALYZE")
        db.commit()
        db.close()
        os.replace(partial, target)
    except BaseException:
        db.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        entries_file.unlink(missing_ok=True)
        con.execute("DROP TABLE IF EXISTS bw_lookup_people")
    summary.seconds = time.perf_counter() - started
    return summary


def _count(con: Any, sql: str, params: dict[str, Any] | None = None) -> int:
    row = con.execute(sql, params or {}).fetchone()
    return int(row[0]) if row else 0


class _Evaluation:
    """The OPRF of every identifier, in the background: a thread streams the identifiers from
    DuckDB (its own cursor) to worker processes and writes what comes back to a Parquet file of
    entries, while the calling thread goes on with the risks and the payloads.

    One worker process per core (``workers``); with one worker, the thread evaluates by itself.
    Processes are spawned, never forked: the parent runs DuckDB's threads.
    """

    def __init__(self, keys: LookupKeys, bits: int, workers: int | None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.stopping = threading.Event()
        evaluator.init(keys.oprf_key, keys.seal_key, bits)
        self.pool = (
            ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=evaluator.init,
                initargs=(keys.oprf_key, keys.seal_key, bits),
            )
            if self.workers > 1
            else None
        )
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="bw-oprf")
        self.future: Future[None] | None = None
        self.done = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
        self.thread.shutdown()

    def wait(self) -> None:
        if self.future is not None:
            self.future.result()

    def start(
        self,
        cursor: Any,
        breach: str,
        chunks: list[tuple[int, int]],
        out: Path,
        people: int,
        report: Progress,
    ) -> None:
        """Starts the background thread. Progress counts people: the identifiers come in
        person order, and their number is not known before the last chunk."""

        def run() -> None:
            try:
                report("OPRF", 0, people)
                reader = _chunked(cursor, _IDENTIFIERS, {"breach": breach}, chunks)
                with pq.ParquetWriter(out, ENTRY_SCHEMA, compression="none") as writer:
                    for batch, (buckets, tags) in self._evaluated(reader):
                        n = batch.num_rows
                        tag_array = pa.FixedSizeBinaryArray.from_buffers(
                            pa.binary(TAG_BYTES), n, [None, pa.py_buffer(tags)]
                        )
                        columns = [pa.array(buckets, pa.int64()), tag_array]
                        columns += [batch.column("person"), batch.column("kind")]
                        writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=ENTRY_SCHEMA))
                        self.done += n
                        report("OPRF", batch.column("person")[-1].as_py(), people)
            finally:
                cursor.close()

        self.future = self.thread.submit(run)

    def _evaluated(
        self, reader: Iterator[pa.RecordBatch]
    ) -> Iterator[tuple[pa.RecordBatch, tuple[list[int], bytes]]]:
        """(batch, its evaluation) in order, at most two batches per worker in flight."""
        pending: deque[tuple[pa.RecordBatch, Future[tuple[list[int], bytes]]]] = deque()
        for batch in reader:
            if self.stopping.is_set():
                return
            identifiers = batch.column("ident").to_pylist()
            if self.pool is None:
                yield batch, evaluator.evaluate_batch(identifiers)
                continue
            pending.append((batch, self.pool.submit(evaluator.evaluate_batch, identifiers)))
            if len(pending) >= 2 * self.workers:
                head, future = pending.popleft()
                yield head, future.result()
        while pending and not self.stopping.is_set():
            head, future = pending.popleft()
            yield head, future.result()


def _chunked(
    con: Any, sql: str, params: dict[str, Any], chunks: list[tuple[int, int]]
) -> Iterator[pa.RecordBatch]:
    """The batches of ``sql`` run once per chunk of people, in chunk order."""
    for lo, hi in chunks:
        yield from con.execute(sql, {**params, "lo": lo, "hi": hi}).fetch_record_batch(BATCH_ROWS)


def _create_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(
        """
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        PRAGMA page_size = 8192;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE people (person INTEGER PRIMARY KEY, sealed BLOB NOT NULL);
        CREATE TABLE entries (
            bucket INTEGER NOT NULL, tag BLOB NOT NULL, person INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            PRIMARY KEY (bucket, tag, person)
        ) WITHOUT ROWID;
        """
    )
    return db


def _write_people(
    con: Any,
    db: sqlite3.Connection,
    aead: AESGCM,
    breach: str,
    chunks: list[tuple[int, int]],
    total: int,
    report: Progress,
) -> None:
    done, aad = 0, payload_aad(breach)
    report("payloads", 0, total)
    for batch in _chunked(con, _PAYLOADS, {"breach": breach}, chunks):
        persons, payloads = (column.to_pylist() for column in batch.columns)
        db.executemany(
            "INSERT INTO people VALUES (?, ?)", _seal_batch(aead, aad, persons, payloads)
        )
        done += len(persons)
        report("payloads", done, total)


def _write_entries(
    con: Any, db: sqlite3.Connection, entries_file: Path, total: int, report: Progress
) -> tuple[int, dict[str, int]]:
    done = 0
    report("index", 0, total)
    path = str(entries_file).replace("'", "''")
    reader = con.execute(
        f"SELECT bucket, tag, person, kind FROM read_parquet('{path}') ORDER BY bucket, tag, person"
    ).fetch_record_batch(100_000)
    per_code: Counter[int] = Counter()
    for batch in reader:
        db.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, ?)",
            zip(*(c.to_pylist() for c in batch.columns), strict=True),
        )
        # Counted from the batch at hand: SQLite's GROUP BY read the whole table again.
        counts = pc.value_counts(batch.column("kind")).to_pylist()
        per_code.update({c["values"]: c["counts"] for c in counts})
        done += batch.num_rows
        report("index", done, total)
    names = {code: kind.value for kind, code in KIND_CODES.items()}
    return done, {names[code]: n for code, n in sorted(per_code.items())}


def _write_meta(db: sqlite3.Connection, s: IndexSummary) -> None:
    meta = {
        "format": str(FORMAT_VERSION),
        "breach": s.breach,
        "sensitive": "1" if s.sensitive else "0",
        "key_id": s.key_id,
        "prefix_bits": str(s.prefix_bits),
        "tag_bytes": str(TAG_BYTES),
        "people": str(s.people),
        "entries": str(s.entries),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())


# -- reading ---------------------------------------------------------------------------------


class LookupIndex:
    """A built index, opened read-only (one connection per thread: sqlite3 objects are not
    shared across threads)."""

    def __init__(self, path: Path, keys: LookupKeys) -> None:
        if not path.is_file():
            raise WorkspaceError(f"no lookup index at {path}: run `breachwatch index` first")
        self.path = path
        self.keys = keys
        self.mtime = path.stat().st_mtime
        db = self._connect()
        try:
            self.meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{path} is not a breachwatch lookup index: {exc}") from None
        finally:
            db.close()
        if self.meta.get("format") != str(FORMAT_VERSION):
            raise WorkspaceError(f"{path}: index format {self.meta.get('format')} unsupported")
        if self.meta["key_id"] != keys.key_id:
            raise WorkspaceError(
                f"{path} was built with lookup key {self.meta['key_id']}, but the key in effect "
                f"is {keys.key_id}: rebuild it with `breachwatch index --breach "
                f"{self.meta['breach']}`"
            )
        self.breach = self.meta["breach"]
        self.sensitive = self.meta["sensitive"] == "1"
        self.prefix_bits = int(self.meta["prefix_bits"])
        self._aead = AESGCM(keys.seal_key)
        self._aad = payload_aad(self.breach)
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True)

    @property
    def db(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "db", None)
        if con is None:
            con = self._connect()
            self._local.db = con
        return con

    def find(self, data: bytes) -> list[dict[str, Any]]:
        """Payloads of the people holding this canonical identifier (usually 0 or 1)."""
        tag = oprf.evaluate(self.keys.oprf_key, data)[:TAG_BYTES]
        key = bucket_key(self.keys.seal_key, bucket(data, self.prefix_bits))
        people = [
            row[0]
            for row in self.db.execute(
                "SELECT person FROM entries WHERE bucket = ? AND tag = ?", (key, tag)
            )
        ]
        return [self.payload(p) for p in people]

    def payload(self, person: int) -> dict[str, Any]:
        row = self.db.execute("SELECT sealed FROM people WHERE person = ?", (person,)).fetchone()
        if row is None:
            raise WorkspaceError(f"{self.path}: entry points to a missing person")
        sealed: bytes = row[0]
        text = self._aead.decrypt(sealed[:12], sealed[12:], self._aad + str(person).encode())
        return with_expanded_exposure(json.loads(text))

    def bucket_tags(self, prefix: int, size: int) -> list[bytes]:
        """The tags of one bucket, truncated to ``size`` bytes (for partners)."""
        return [
            bytes(row[0][:size])
            for row in self.db.execute(
                "SELECT tag FROM entries WHERE bucket = ?",
                (bucket_key(self.keys.seal_key, prefix),),
            )
        ]


def open_indexes(home: Path, keys: LookupKeys) -> dict[str, LookupIndex]:
    folder = index_dir(home)
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.index")):
        index = LookupIndex(path, keys)
        found[index.breach] = index
    return found


class Indexes:
    """The built indexes, reopened when a rebuild replaced a file (checked every few seconds)."""

    def __init__(self, home: Path, keys: LookupKeys) -> None:
        self.home = home
        self.keys = keys
        self._lock = threading.Lock()
        self._checked = 0.0
        self._current: dict[str, LookupIndex] = open_indexes(home, keys)

    def __call__(self) -> dict[str, LookupIndex]:
        now = time.monotonic()
        if now - self._checked > 5:
            with self._lock:
                self._checked = now
                if self._stale():
                    self._current = open_indexes(self.home, self.keys)
        return self._current

    def _stale(self) -> bool:
        folder = index_dir(self.home)
        on_disk = {p: p.stat().st_mtime for p in folder.glob("*.index")} if folder.is_dir() else {}
        known = {i.path: i.mtime for i in self._current.values()}
        return on_disk != known
