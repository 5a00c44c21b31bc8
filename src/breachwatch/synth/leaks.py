"""Who is in each leak, and how each leak's copy of them is degraded and written.

For one chunk of people, a leak draws its rows (registry people and outsiders at the spec's
shares, plus duplicates), draws every noise decision as a numpy column, and lets one SQL query
turn person + decisions into the record's text: the *body*, i.e. the line without the leak's own
record id, which is only known once rows are shuffled (see formats.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from breachwatch.synth import engine, text
from breachwatch.synth.config import LeakSpec

_STREAM = 2  # random stream family of the leaks

# How each source writes a phone number (text.PHONE_STYLES): 0 0612345678, 1 06 12 34 56 78,
# 2 +33612345678, 3 0033612345678, 4 06.12.34.56.78, 5 +33 6 12 34 56 78.
PHONE_STYLES: Mapping[str, Mapping[int, float]] = {
    "main": {0: 1.0},
    "telecom": {0: 0.10, 1: 0.40, 2: 0.20, 3: 0.10, 4: 0.20},
    "retail": {0: 0.40, 1: 0.10, 2: 0.30, 5: 0.20},
}
# Birth dates in the retail export: 0 1985-03-21, 1 21/03/1985, 2 19850321.
DATE_STYLES: Mapping[str, Mapping[int, float]] = {"retail": {0: 0.4, 1: 0.4, 2: 0.2}}
# Fields a leak may leave empty (each at the spec's missing_share).
OPTIONAL: Mapping[str, tuple[str, ...]] = {
    "main": (),
    "telecom": ("phone", "email", "birth_date"),
    "retail": ("phone", "email", "birth_date", "street"),
    "health": ("birth_date", "address"),
    "forum": ("city", "birth_date"),
}
# Decisions drawn for every leak that touch a field some leaks do not hold: not reported there.
_NOT_HELD: Mapping[str, tuple[str, ...]] = {
    "health": ("stale_phone", "stale_email"),
    "forum": ("stale_phone", "is_abbrev"),
}

_TELECOM_OFFERS = (
    "Forfait 2 h – 2 €", "Forfait 5G 100 Go – 19,99 €", "Box Fibre – 29,99 €/mois",
    "Série Spéciale 40 Go – 9,99 €", "Forfait Bloqué 1 Go – 5 €", "Box Fibre + TV – 39,99 €/mois",
)  # fmt: skip
_EMAIL_TAGS = ("promo", "shop", "newsletter", "fidelite", "soldes")
# The ten most used passwords in French leaks: identical unsalted hashes across accounts.
_COMMON_PASSWORDS = (
    "123456", "azerty", "123456789", "password", "soleil", "marseille", "doudou", "loulou",
    "chouchou", "nicolas",
)  # fmt: skip


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


# Person + decisions → the values a leak shows: swap, typo, stale, abbreviation, accents, case.
_NOISED = """
WITH s AS (
    SELECT *,
        CASE WHEN is_swap THEN last_name ELSE first_name END AS f0,
        CASE WHEN is_swap THEN first_name ELSE last_name END AS l0,
        CASE WHEN stale_address THEN old_address ELSE address END AS a0,
        CASE WHEN stale_address THEN old_postcode ELSE postcode END AS zip,
        CASE WHEN stale_address THEN old_city ELSE city END AS c0,
        CASE WHEN stale_email THEN email_old ELSE email END AS mail
    FROM rows
), t AS (
    SELECT *,
        typo(f0, typo_first, u_first, chr(97 + letter_first)) AS f1,
        typo(l0, typo_last, u_last, chr(97 + letter_last)) AS l1,
        CASE WHEN is_abbrev THEN abbreviate(a0) ELSE a0 END AS a1
    FROM s
), u AS (
    SELECT *,
        CASE WHEN is_unaccent THEN strip_accents(f1) ELSE f1 END AS f2,
        CASE WHEN is_unaccent THEN strip_accents(l1) ELSE l1 END AS l2,
        CASE WHEN is_unaccent THEN strip_accents(a1) ELSE a1 END AS a2,
        CASE WHEN is_unaccent THEN strip_accents(c0) ELSE c0 END AS c2
    FROM t
)
SELECT *,
    CASE WHEN is_upper THEN upper(f2) ELSE f2 END AS fn,
    CASE WHEN is_upper THEN upper(l2) ELSE l2 END AS ln,
    CASE WHEN is_upper THEN upper(a2) ELSE a2 END AS addr,
    CASE WHEN is_upper THEN upper(c2) ELSE c2 END AS town
FROM u
"""

# One query per leak: its body text. Missing fields become NULL (empty, absent key or SQL NULL).
_BODIES: Mapping[str, str] = {
    # lastname firstname birthname ssn agency_id email phone phone2 address zip city birthdate
    # gender; attackers' export, tab-separated, nothing in the data needs quoting.
    "main": """
        concat_ws(chr(9), ln, fn, coalesce(birth_name, ''), nir, agency_id, mail,
            phone_text, coalesce(landline_text, ''), addr, zip, town,
            strftime(birth_date, '%Y-%m-%d'), sex)""",
    # NOM;PRENOM;TEL;EMAIL;ADRESSE;CP;VILLE;DATE_NAISSANCE;OFFRE after id_client.
    "telecom": f"""
        concat_ws(';', curly(upper(ln), curly_apostrophe), curly(fn, curly_apostrophe),
            CASE WHEN miss_phone THEN '' ELSE phone_text END,
            CASE WHEN miss_email THEN '' ELSE mail END,
            csv_field(curly(addr, curly_apostrophe), ';'), zip, csv_field(town, ';'),
            CASE WHEN miss_birth_date THEN '' ELSE strftime(birth_date, '%d/%m/%Y') END,
            {_sql_list(_TELECOM_OFFERS)}[1 + pick_a % {len(_TELECOM_OFFERS)}])""",
    # The JSON object's members after "customer_id"; absent members are left out.
    "retail": f"""
        concat_ws(',',
            json_member('first_name', to_json(fn)), json_member('last_name', to_json(ln)),
            json_member('email', CASE WHEN NOT miss_email THEN to_json(retail_email(
                mail, CASE WHEN email_case_variant THEN 1 + pick_b % 2 ELSE 0 END,
                CASE WHEN email_plus_tag
                    THEN {_sql_list(_EMAIL_TAGS)}[1 + pick_a % {len(_EMAIL_TAGS)}] END)) END),
            json_member('phone', CASE WHEN NOT miss_phone THEN to_json(phone_text) END),
            json_member('birth_date', CASE WHEN NOT miss_birth_date THEN to_json(CASE date_style
                WHEN 0 THEN strftime(birth_date, '%Y-%m-%d')
                WHEN 1 THEN strftime(birth_date, '%d/%m/%Y')
                ELSE strftime(birth_date, '%Y%m%d') END) END),
            json_member('street', CASE WHEN NOT miss_street THEN to_json(addr) END),
            json_member('postcode', CASE WHEN postcode_as_number
                THEN CAST(CAST(zip AS INTEGER) AS VARCHAR) ELSE to_json(zip) END),
            json_member('town', to_json(town)),
            json_member('loyalty_points', CAST(pick_b % 5000 AS VARCHAR))) || '}}'""",
    # `nom`,`prenom`,`nir`,`date_naissance`,`adresse`,`code_postal`,`ville` after `id`.
    "health": """
        concat_ws(',', sql_literal(ln), sql_literal(fn),
            sql_literal(CASE WHEN nir_missing THEN NULL
                WHEN nir_bad_key THEN nir[1:13] || lpad(CAST((CAST(nir[14:15] AS INTEGER) - 1
                    + (1 + pick_a % 96)) % 97 + 1 AS VARCHAR), 2, '0')
                WHEN nir_spaced THEN concat_ws(' ', nir[1:1], nir[2:3], nir[4:5], nir[6:7],
                    nir[8:10], nir[11:13], nir[14:15])
                ELSE nir END),
            sql_literal(CASE WHEN NOT miss_birth_date THEN strftime(birth_date, '%Y-%m-%d') END),
            sql_literal(CASE WHEN miss_address THEN NULL
                WHEN address_backslash THEN addr || ' Bât. 3\\B' ELSE addr END),
            sql_literal(CASE WHEN NOT miss_address THEN zip END),
            sql_literal(CASE WHEN NOT miss_address THEN town END))""",
    # "username","email","full_name","city","birth_year","ip","password_md5" after "user_id".
    "forum": f"""
        concat_ws(',', csv_quoted(CASE pick_a % 3 WHEN 0 THEN split_part(mail, '@', 1)
                WHEN 1 THEN handle(fn) || CAST(pick_b % 100 AS VARCHAR)
                ELSE handle(fn[1:1] || ln) || CAST(year(birth_date) % 100 AS VARCHAR) END),
            csv_quoted(mail), csv_quoted(fn || ' ' || ln),
            csv_quoted(CASE WHEN NOT miss_city THEN town END),
            csv_quoted(CASE WHEN NOT miss_birth_date THEN CAST(year(birth_date) AS VARCHAR) END),
            csv_quoted(forum_ip(pick_b)),
            csv_quoted(md5(CASE WHEN common_password
                THEN {_sql_list(_COMMON_PASSWORDS)}[1 + pick_a % {len(_COMMON_PASSWORDS)}]
                ELSE 'synthetic-' || CAST(identity AS VARCHAR) || '-' || CAST(seed AS VARCHAR)
                END)))""",
}

_MACROS = r"""
CREATE MACRO handle(s) AS regexp_replace(lower(strip_accents(s)), '[^a-z0-9-]', '', 'g');
CREATE MACRO curly(s, flag) AS CASE WHEN flag THEN replace(s, '''', '’') ELSE s END;
-- Jean.Dupont@Example.org (1) or JEAN.DUPONT@EXAMPLE.ORG (2), optionally with a +tag.
CREATE MACRO retail_email(e, variant, tag) AS CASE
    WHEN tag IS NOT NULL THEN split_part(e, '@', 1) || '+' || tag || '@' || split_part(e, '@', 2)
    WHEN variant = 1 THEN array_to_string(list_transform(string_split(split_part(e, '@', 1), '.'),
        x -> upper(x[1:1]) || x[2:]), '.') || '@' || upper(split_part(e, '@', 2)[1:1])
        || split_part(e, '@', 2)[2:]
    WHEN variant = 2 THEN upper(e)
    ELSE e
END;
-- Shared address space (RFC 6598) and documentation ranges (RFC 5737): never a real subscriber.
CREATE MACRO forum_ip(k) AS CASE WHEN k % 10 = 0
    THEN ['192.0.2.', '198.51.100.', '203.0.113.'][1 + k // 10 % 3]
        || CAST(1 + k // 30 % 254 AS VARCHAR)
    ELSE '100.' || CAST(64 + k // 7 % 64 AS VARCHAR) || '.' || CAST(k // 449 % 256 AS VARCHAR)
        || '.' || CAST(1 + k // 114943 % 254 AS VARCHAR)
END;
"""

_PERSON_COLUMNS = (
    "identity", "person_id", "sex", "first_name", "last_name", "birth_name", "birth_date", "nir",
    "agency_id", "email", "email_old", "mobile", "mobile_old", "landline", "address", "postcode",
    "city", "old_address", "old_postcode", "old_city",
)  # fmt: skip


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_MACROS)


@dataclass
class LeakRows:
    """One chunk's rows of one leak: body text, truth columns and what was done to them."""

    table: pa.Table  # body, person_id, identity
    counts: dict[str, int]


def draw_rows(
    rng: np.random.Generator, spec: LeakSpec, registry: int, pool: int
) -> tuple[np.ndarray, int]:
    """Row indices into the chunk's people (registry first, then outsiders) and how many of
    them are duplicates (the trailing ones)."""
    present = np.concatenate(
        [
            np.flatnonzero(rng.random(registry) < spec.registry_share),
            registry + np.flatnonzero(rng.random(pool) < spec.outsider_share),
        ]
    )
    repeats = rng.binomial(len(present), spec.duplicate_share) if len(present) else 0
    duplicates = rng.choice(present, repeats, replace=False) if repeats else present[:0]
    return np.concatenate([present, duplicates]), repeats


def leak_rows(
    con: duckdb.DuckDBPyConnection,
    spec: LeakSpec,
    people: pa.Table,
    registry: int,
    stream: tuple[int, int, int],
) -> LeakRows:
    """``stream`` = (seed, leak number, chunk number) keys this leak's draws for this chunk."""
    seed = stream[0]
    rng = np.random.default_rng([seed, _STREAM, *stream[1:]])
    rows, repeats = draw_rows(rng, spec, registry, people.num_rows - registry)
    decisions = _decisions(rng, spec, len(rows))
    table = people.select(list(_PERSON_COLUMNS)).take(pa.array(rows))
    for name, values in decisions.items():
        table = table.append_column(name, pa.array(values))
    for name, values in _phone_texts(table, decisions).items():
        table = table.append_column(name, values)
    sql = f"SELECT {_BODIES[spec.name]} AS body, person_id, identity FROM ({_NOISED}) n"
    table = table.append_column("seed", pa.array(np.full(len(rows), seed)))
    body = engine.run(con, sql, rows=table)
    return LeakRows(body, _counts(spec.name, rows, repeats, registry, decisions))


def _phone_texts(table: pa.Table, decisions: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    # Formatted in numpy (text.phones): ~10× faster than string functions in SQL.
    mobile = np.where(
        decisions["stale_phone"], table["mobile_old"].to_numpy(), table["mobile"].to_numpy()
    )
    return {
        "phone_text": text.phones(mobile, decisions["phone_style"]),
        "landline_text": text.phone_column(table["landline"], 0),
    }


def _decisions(rng: np.random.Generator, spec: LeakSpec, n: int) -> dict[str, np.ndarray]:
    """Every random choice of every row, drawn here so the SQL stays a pure function."""

    def share(p: float) -> np.ndarray:
        return rng.random(n) < p

    def typo_kind(p: float) -> np.ndarray:
        # 1 substituted, 2 deleted, 3 transposed.
        return np.where(rng.random(n) < p, rng.integers(1, 4, n), 0)

    out = {
        "stale_address": share(spec.stale_share),
        "stale_phone": share(spec.stale_share),
        "stale_email": share(spec.stale_share),
        "is_swap": share(spec.swap_share),
        "typo_first": typo_kind(spec.typo_share),
        "u_first": rng.random(n),
        "letter_first": rng.integers(0, 26, n, dtype=np.int32),
        "typo_last": typo_kind(spec.typo_share),
        "u_last": rng.random(n),
        "letter_last": rng.integers(0, 26, n, dtype=np.int32),
        "is_abbrev": share(spec.abbreviation_share),
        "is_unaccent": share(spec.unaccent_share),
        "is_upper": share(spec.upper_share),
        "phone_style": _styles(rng, PHONE_STYLES.get(spec.name, {0: 1.0}), n),
        "date_style": _styles(rng, DATE_STYLES.get(spec.name, {0: 1.0}), n),
        "pick_a": rng.integers(0, 1 << 30, n),
        "pick_b": rng.integers(0, 1 << 30, n),
    }
    for field in OPTIONAL[spec.name]:
        out[f"miss_{field}"] = share(spec.missing_share)
    for quirk, p in spec.quirks.items():
        out[quirk] = share(p)
    return out


def _styles(rng: np.random.Generator, weights: Mapping[int, float], n: int) -> np.ndarray:
    styles = np.array(list(weights))
    p = np.array(list(weights.values()))
    return styles[rng.choice(len(styles), n, p=p / p.sum())]


def _counts(
    leak: str, rows: np.ndarray, repeats: int, registry: int, decisions: dict[str, np.ndarray]
) -> dict[str, int]:
    """Who is in the rows, and how many rows each noise decision was drawn for."""
    unique = rows[: len(rows) - repeats]
    counts = {
        "rows": len(rows),
        "duplicate_rows": repeats,
        "registry_rows": int((rows < registry).sum()),
        "outsider_rows": int((rows >= registry).sum()),
        "registry_people": int((unique < registry).sum()),
        "outsider_people": int((unique >= registry).sum()),
    }
    skip = {
        *_NOT_HELD.get(leak, ()),
        "u_first",
        "u_last",
        "letter_first",
        "letter_last",
        "phone_style",
        "date_style",
        "pick_a",
        "pick_b",
    }
    for name, values in decisions.items():
        drawn = int(np.count_nonzero(values))
        if name not in skip and drawn:
            counts[name] = drawn
    return counts
