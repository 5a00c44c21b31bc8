"""Tables of the workspace database. Every personal value lives in the encrypted ``ws`` file."""

from __future__ import annotations

import duckdb

from breachwatch.types import SLOTS, DataClass, slot_columns

# Classes whose values repeat across people (names, places, dates of birth, postal codes,
# gender; households share a street address): ingest normalises them once per distinct value,
# and storage keeps their columns as a dictionary.
REPEATING_CLASSES = frozenset(
    {
        DataClass.FIRST_NAME,
        DataClass.LAST_NAME,
        DataClass.BIRTH_NAME,
        DataClass.CITY,
        DataClass.PLACE_OF_BIRTH,
        DataClass.GENDER,
        DataClass.POSTAL_CODE,
        DataClass.DATE_OF_BIRTH,
        # Households and streets repeat: ~17% distinct in the synthetic registry.
        DataClass.POSTAL_ADDRESS,
    }
)


def records_columns() -> list[tuple[str, str]]:
    cols = [
        ("record_uid", "BIGINT"),
        ("breach", "VARCHAR"),
        ("source_id", "INTEGER"),
        ("line", "BIGINT"),
        ("record_no", "BIGINT"),
        # Raw values in source column order; sources.column_names names them. A value that
        # reads exactly as its slot's stored value is left out (NULL): raw_values_sql.
        ("raw", "VARCHAR[]"),
    ]
    for slot in SLOTS:
        cols.extend(slot_columns(slot))
    return cols


def records_compression(name: str, sql_type: str) -> str | None:
    """The compression pinned for a ``records`` column under ``storage_compression = zstd``.

    Forcing zstd on every string column made the write the largest cost of an ingest. Pinned
    per column instead (decision 0003): repeating classes as a dictionary (dict_fsst), the other
    short normalised strings (identifiers, e-mails, phones: mostly distinct) uncompressed; the
    raw values uncompressed too, as ingest leaves out those that read as their stored value
    (zstd on what is left cost ~0.7 CPU s per 1 M rows for 13% of the file); free text keeps
    the session's zstd (None: the session's ``force_compression`` decides).
    """
    if name == "raw":
        return "uncompressed"
    slot = next((s for s in SLOTS if name in {n for n, _ in slot_columns(s)}), None)
    if sql_type != "VARCHAR" or slot is None or slot.data_class == DataClass.FREE_TEXT:
        return None
    return "dict_fsst" if slot.data_class in REPEATING_CLASSES else "uncompressed"


def raw_value_sql(record: str, raw_slots: str, position: str) -> str:
    """SQL of the raw value at 1-based ``position`` of the ``records`` row ``record``.

    Ingest leaves a raw value out where it reads exactly as the stored value of the slot it
    fills; ``raw_slots`` (SQL of that source's ``sources.raw_slots``, NULL for sources
    ingested before) names the slot whose value stands in.
    """
    cases = " ".join(
        f"WHEN '{slot.name}' THEN CAST({record}.\"{slot.name}\" AS VARCHAR)" for slot in SLOTS
    )
    return f"coalesce({record}.raw[{position}], CASE {raw_slots}[{position}] {cases} END)"


def raw_values_sql(record: str, raw_slots: str) -> str:
    """SQL of every raw value of ``record``, in source column order (see raw_value_sql)."""
    value = raw_value_sql(record, raw_slots, "bw_i")
    return f"list_transform(range(1, len({record}.raw) + 1), lambda bw_i: {value})"


def create_schema(con: duckdb.DuckDBPyConnection, compression: str | None = None) -> None:
    """Creates the missing tables; ``compression`` is the ``storage_compression`` setting, which
    new ``records`` tables pin per column when it is ``zstd`` (existing tables keep theirs)."""
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS breaches (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            disclosed_on DATE
        )"""
    )
    # Sensitive breaches (membership says something about the person) never show a self-check
    # result on screen; added after the first release, hence the ALTER for older workspaces.
    con.execute("ALTER TABLE breaches ADD COLUMN IF NOT EXISTS sensitive BOOLEAN DEFAULT true")
    # When a leak was last linked to the registry (``affected``): a leak that matched nobody has
    # no affected rows, and must not be linked again by every ``risk`` run for that.
    con.execute("ALTER TABLE breaches ADD COLUMN IF NOT EXISTS linked_at TIMESTAMP")
    con.execute("CREATE SEQUENCE IF NOT EXISTS source_ids START 1")
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS sources (
            source_id INTEGER PRIMARY KEY,
            breach VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            encoding VARCHAR NOT NULL,
            delimiter VARCHAR,
            rows_read BIGINT NOT NULL,
            rows_accepted BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            blank_lines BIGINT NOT NULL,
            header_lines BIGINT NOT NULL,
            columns JSON NOT NULL,
            column_names VARCHAR[] NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            seconds DOUBLE NOT NULL,
            UNIQUE (breach, sha256)
        )"""
    )
    # Per column, the slot whose value stands in for a raw value left out (raw_value_sql);
    # added after the first release, hence the ALTER (older sources: NULL, raw kept whole).
    con.execute("ALTER TABLE sources ADD COLUMN IF NOT EXISTS raw_slots VARCHAR[]")
    cols = ",\n".join(
        f'"{name}" {sql_type}' + _using(records_compression(name, sql_type), compression)
        for name, sql_type in records_columns()
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS records ({cols})")
    # Slots added after a workspace was created (full_name, birth_year): NULL in its old rows.
    for name, sql_type in records_columns():
        con.execute(f'ALTER TABLE records ADD COLUMN IF NOT EXISTS "{name}" {sql_type}')
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS affected_links (
            breach VARCHAR NOT NULL,
            leak_uid BIGINT NOT NULL,
            registry_uid BIGINT NOT NULL,
            route VARCHAR NOT NULL,
            match_probability DOUBLE NOT NULL,
            explanation JSON NOT NULL
        )"""
    )
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS affected (
            breach VARCHAR NOT NULL,
            record_id VARCHAR,
            registry_uid BIGINT NOT NULL,
            data_classes VARCHAR[] NOT NULL,
            match_probability DOUBLE NOT NULL,
            match_route VARCHAR NOT NULL,
            leak_uids BIGINT[] NOT NULL,
            computed_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute(
        f"""
        CREATE OR REPLACE VIEW records_raw AS
        SELECT r.record_uid, r.breach, r.source_id, r.line, r.record_no,
               map_from_entries(list_zip(s.column_names, {raw_values_sql("r", "s.raw_slots")}))
                   AS raw
        FROM records r JOIN sources s USING (source_id)"""
    )
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            breach VARCHAR NOT NULL,
            source_id INTEGER NOT NULL,
            line BIGINT,
            record_no BIGINT,
            reason VARCHAR NOT NULL,
            raw_text VARCHAR
        )"""
    )
    # What derived tables were built from (e.g. ``risk``: the breach, the rules and the state
    # of every breach's links), so a caller can reuse them instead of building them again.
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS derived (
            name VARCHAR PRIMARY KEY,
            signature VARCHAR NOT NULL,
            built_at TIMESTAMP NOT NULL
        )"""
    )


def _using(method: str | None, compression: str | None) -> str:
    return f" USING COMPRESSION {method}" if method and compression == "zstd" else ""
