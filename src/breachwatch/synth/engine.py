"""DuckDB as a vectorised string engine: numpy draws the randomness, SQL formats the text.

Every random choice arrives as a column (a flag, a uniform, a style number), so the SQL is a pure
function of its input and the output is the same on every run and every thread count.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

_MACROS = r"""
-- One keyboard slip at a position drawn from u; the first letter is kept, as in most typos.
CREATE MACRO typo_at(s, kind, p, letter) AS CASE kind
    WHEN 1 THEN substring(s, 1, p - 1) || letter || substring(s, p + 1)
    WHEN 2 THEN substring(s, 1, p - 1) || substring(s, p + 1)
    WHEN 3 THEN substring(s, 1, p - 1) || substring(s, p + 1, 1) || substring(s, p, 1)
                || substring(s, p + 2)
    ELSE s
END;
CREATE MACRO typo(s, kind, u, letter) AS CASE
    WHEN kind = 0 OR s IS NULL OR length(s) < 3 THEN s
    ELSE typo_at(s, kind, 2 + CAST(floor(u * (length(s) - 2)) AS BIGINT), letter)
END;
CREATE MACRO abbreviate(a) AS
    replace(replace(replace(replace(replace(replace(replace(replace(a,
        ' avenue ', ' av. '), ' boulevard ', ' bd '), ' rue ', ' r. '), ' chemin ', ' ch. '),
        ' impasse ', ' imp. '), ' allée ', ' all. '), ' place ', ' pl. '), ' route ', ' rte ');
-- RFC 4180: quote only a field holding the separator, a quote or a line break.
CREATE MACRO csv_field(s, sep) AS CASE
    WHEN s IS NULL THEN ''
    WHEN contains(s, sep) OR contains(s, '"') OR contains(s, chr(10)) OR contains(s, chr(13))
        THEN '"' || replace(s, '"', '""') || '"'
    ELSE s
END;
CREATE MACRO csv_quoted(s) AS CASE
    WHEN s IS NULL THEN '""' ELSE '"' || replace(s, '"', '""') || '"'
END;
-- MySQL string literal: backslash first, then the quote.
CREATE MACRO sql_literal(s) AS CASE
    WHEN s IS NULL THEN 'NULL'
    ELSE '''' || replace(replace(s, '\', '\\'), '''', '\''') || ''''
END;
CREATE MACRO json_member(k, v) AS CASE WHEN v IS NULL THEN NULL ELSE '"' || k || '":' || v END;
"""


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = true")
    con.execute(_MACROS)
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str, **tables: pa.Table) -> pa.Table:
    """Run ``sql`` over Arrow ``tables`` (by name) and return the result in row order."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        return con.execute(sql).fetch_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
