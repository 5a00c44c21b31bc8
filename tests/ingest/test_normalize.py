"""Normalisation rules: checked-in vectors per data class, and properties proving that the SQL
fast path agrees with the reference libraries on every value it settles.

Every evaluation is one query over a batch of values on a real in-memory DuckDB connection.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import phonenumbers
import pyarrow as pa
import pytest
from duckdb.func import FunctionNullHandling, PythonUDFType
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import iban as std_iban
from stdnum.fr import nir as std_nir

from breachwatch.ingest import normalize
from breachwatch.ingest.normalize import register_udfs, slot_exprs
from breachwatch.types import SLOTS, SLOTS_BY_CLASS, DataClass, slot_columns

VECTORS = Path(__file__).parents[1] / "data" / "normalize"
NULL_TOKEN = "<NULL>"
# What the stand-in UDFs of `fast_con` return: the SQL fast path did not settle the value.
SENTINEL = "\x01sent to the library"
UDFS = (
    normalize.UDF_NIR,
    normalize.UDF_PHONE,
    normalize.UDF_EMAIL,
    normalize.UDF_IBAN,
    normalize.UDF_IP,
)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLASSES = [c for c in DataClass if c is not DataClass.UNKNOWN]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    register_udfs(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def fast_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose UDFs answer SENTINEL: any other result was settled in SQL."""

    def sentinel(values: pa.Array) -> pa.Array:
        return pa.array([SENTINEL] * len(values), type=pa.string())

    connection = duckdb.connect()
    for name in UDFS:
        connection.create_function(
            name,
            sentinel,
            [duckdb.sqltypes.VARCHAR],
            duckdb.sqltypes.VARCHAR,
            type=PythonUDFType.ARROW,
            null_handling=FunctionNullHandling.SPECIAL,
        )
    yield connection
    connection.close()


def evaluate(
    con: duckdb.DuckDBPyConnection, cls: DataClass, values: list[str | None]
) -> list[dict[str, Any]]:
    """The slot columns of each value, in order, from one query over the whole batch."""
    exprs = slot_exprs(SLOTS_BY_CLASS[cls][0], '"raw"')
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in exprs.items())
    batch = "SELECT unnest(range(?)) AS i, unnest(?::VARCHAR[]) AS raw"
    rows = con.execute(f"SELECT {select} FROM ({batch}) ORDER BY i", [len(values), values])
    return [dict(zip(exprs, row, strict=True)) for row in rows.fetchall()]


def values_of(con: duckdb.DuckDBPyConnection, cls: DataClass, values: list[str]) -> list[Any]:
    name = SLOTS_BY_CLASS[cls][0].name
    return [row[name] for row in evaluate(con, cls, values)]


def check_against(
    con: duckdb.DuckDBPyConnection,
    fast_con: duckdb.DuckDBPyConnection,
    cls: DataClass,
    values: list[str],
    reference: Callable[[str], str | None],
) -> None:
    """The full expression equals the library everywhere; the fast path wherever it settles."""
    expected = [reference(v) for v in values]
    full = values_of(con, cls, values)
    fast = values_of(fast_con, cls, values)
    for value, want, got, settled in zip(values, expected, full, fast, strict=True):
        assert got == want, f"{value!r}: SQL+UDF {got!r}, library {want!r}"
        if settled != SENTINEL:
            assert settled == want, f"{value!r}: fast path {settled!r}, library {want!r}"


# --- vectors -----------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    r"""Vector files spell invisible characters as \t or \uXXXX."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    return text.replace("\\t", "\t")


def _expected(text: str) -> str | None:
    return text or None


def _valid(text: str) -> bool | None:
    return {"true": True, "false": False, "": None}[text]


@pytest.mark.parametrize("cls", CLASSES, ids=str)
def test_vectors(con: duckdb.DuckDBPyConnection, cls: DataClass) -> None:
    with (VECTORS / f"{cls}.csv").open(encoding="utf-8", newline="") as f:
        vectors = list(csv.DictReader(f))
    slot = SLOTS_BY_CLASS[cls][0]
    inputs = [None if v["input"] == NULL_TOKEN else _unescape(v["input"]) for v in vectors]
    failures = []
    for raw, vector, row in zip(inputs, vectors, evaluate(con, cls, inputs), strict=True):
        got_value = None if row[slot.name] is None else str(row[slot.name])
        want = {slot.name: _expected(vector["value"]), "valid": _valid(vector["valid"])}
        got = {slot.name: got_value, "valid": row[f"{slot.name}_valid"]}
        if slot.match_form:
            want["match"] = _expected(vector["match"])
            got["match"] = row[f"{slot.name}_match"]
        if got != want:
            failures.append(f"{raw!r}: got {got}, want {want}")
    assert not failures, "\n".join(failures)


COMMON_SHAPES = {
    DataClass.PHONE: [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "+33612345678",
        "+33 6 12 34 56 78",
        "0033612345678",
        "33612345678",
        "(0)6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "06 39 12 34 56",
    ],
    DataClass.EMAIL: ["Jean.Dupont@Orange.fr", "mailto:a@b.fr", "<a@b.fr>", "a..b@x.fr", "a@x"],
    DataClass.NIR: ["2 95 10 99 126 111 93", "253072B07300470", "295109912611199"],
    DataClass.IBAN: ["FR76 3000 6000 0112 3456 7890 189", "GB82 WEST 1234 5698 7654 32"],
    DataClass.IP_ADDRESS: ["192.168.1.1", "256.1.1.1"],
}


@pytest.mark.parametrize("cls", list(COMMON_SHAPES), ids=str)
def test_common_shapes_never_reach_the_library(
    fast_con: duckdb.DuckDBPyConnection, cls: DataClass
) -> None:
    assert SENTINEL not in values_of(fast_con, cls, COMMON_SHAPES[cls])


def test_slot_exprs_cover_every_slot_column() -> None:
    for slot in SLOTS:
        assert list(slot_exprs(slot, '"c7"')) == [name for name, _ in slot_columns(slot)]


def test_register_udfs_is_idempotent() -> None:
    connection = duckdb.connect()
    register_udfs(connection)
    register_udfs(connection)
    assert values_of(connection, DataClass.PHONE, ["+44 20 7946 0958"]) == ["+442079460958"]


def test_date_is_a_date(con: duckdb.DuckDBPyConnection) -> None:
    assert values_of(con, DataClass.DATE_OF_BIRTH, ["21/03/1985"]) == [dt.date(1985, 3, 21)]


# --- never raises, consistent columns ----------------------------------------------------------

_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))


@PROPERTY
@given(st.lists(st.one_of(st.none(), _ANY_TEXT), min_size=1, max_size=30))
def test_every_slot_is_total_and_consistent(
    con: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    exprs = {name: e for slot in SLOTS for name, e in slot_exprs(slot, "raw").items()}
    select = ", ".join(f'{e} AS "{name}"' for name, e in exprs.items())
    rows = con.execute(f"SELECT {select} FROM (SELECT unnest(?::VARCHAR[]) AS raw)", [values])
    for raw, row in zip(values, rows.fetchall(), strict=True):
        got = dict(zip(exprs, row, strict=True))
        blank = raw is None or raw.strip() == ""
        for slot in SLOTS:
            valid = got[f"{slot.name}_valid"]
            assert (valid is None) == blank, (slot.name, raw)
            assert (got[slot.name] is not None) == bool(valid), (slot.name, raw)
            if slot.match_form:
                assert (got[f"{slot.name}_match"] is not None) == bool(valid), (slot.name, raw)


# --- NIR vs python-stdnum ----------------------------------------------------------------------


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def nirs(draw: st.DrawFn) -> str:
    """Valid NIRs (Corsica included), then maybe corrupted, with random separators."""
    department = draw(st.one_of(st.sampled_from(["2A", "2B", "2a", "97", "99"]), _digits(2)))
    base = draw(st.sampled_from("123478")) + draw(_digits(4)) + department + draw(_digits(6))
    number = base + std_nir.calc_check_digits(base.upper())
    chars = list(number)
    match draw(st.sampled_from(["none", "none", "digit", "swap", "drop", "extra", "letter"])):
        case "digit":
            chars[draw(st.integers(0, 14))] = draw(st.sampled_from("0123456789"))
        case "swap":
            i = draw(st.integers(0, 13))
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        case "drop":
            del chars[draw(st.integers(0, 14))]
        case "extra":
            chars.insert(draw(st.integers(0, 15)), draw(st.sampled_from("0123456789")))
        case "letter":
            chars[draw(st.integers(0, 14))] = draw(st.sampled_from("ABCOabo"))
    separators = draw(st.lists(st.sampled_from(["", "", "", " ", ".", "-"]), min_size=len(chars)))
    return "".join(s + c for s, c in zip(separators, chars, strict=False))


def reference_nir(value: str) -> str | None:
    # The brief strips dashes as separators too; stdnum's compact() keeps them.
    number = value.strip().replace("-", "")
    return std_nir.compact(number) if std_nir.is_valid(number) else None


@PROPERTY
@given(
    st.lists(st.one_of(nirs(), st.text("0123456789AB ab.-", max_size=18)), min_size=1, max_size=60)
)
def test_nir_agrees_with_stdnum(con: Any, fast_con: Any, values: list[str]) -> None:
    check_against(con, fast_con, DataClass.NIR, values, reference_nir)


# --- phone vs phonenumbers ---------------------------------------------------------------------

_PHONE_PREFIXES = [
    "",
    "0",
    "0",
    "0",
    "+33",
    "+33",
    "+33 ",
    "0033",
    "33",
    "+33 (0)",
    "(0)",
    "+330",
    "+",
    "00",
    "0 0 3 3",
    "++33",
    "0330",
    "+44 ",
    "+32",
    "0044",
    "1",
]
_PHONE_SEPARATORS = ["", "", "", "", "", " ", " ", ".", "-", "/", "(", ")", "\u00a0", "\t", " - "]


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Digit strings, French-shaped or not, with random prefixes and separators."""
    french = st.sampled_from("123456789").flatmap(lambda d: _digits(8).map(lambda r: d + r))
    digits = draw(st.one_of(french, french, st.text("0123456789", max_size=13)))
    separators = draw(st.lists(st.sampled_from(_PHONE_SEPARATORS), min_size=len(digits)))
    body = "".join(s + d for s, d in zip(separators, digits, strict=False))
    return draw(st.sampled_from(_PHONE_PREFIXES)) + body


def reference_phone(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value.strip(), "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@PROPERTY
@given(st.lists(phones(), min_size=1, max_size=60))
def test_phone_agrees_with_phonenumbers(con: Any, fast_con: Any, values: list[str]) -> None:
    check_against(con, fast_con, DataClass.PHONE, values, reference_phone)


# --- e-mail vs email-validator -----------------------------------------------------------------

_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_ODD_LABELS = ["xn--exmple-cua", "xn--zz", "ab--cd", "a" * 63, "a" * 64, "-a", "a-", "123", "é"]
_TLDS = ["fr", "com", "test", "local", "localhost", "onion", "arpa", "invalid", "123", "c0m"]


@st.composite
def emails(draw: st.DrawFn) -> str:
    """Well-formed addresses, and messy ones from generated parts: empty atoms give leading,
    trailing and double dots; odd labels give hyphen edges, Punycode, over-long labels."""
    if draw(st.booleans()):
        atom = st.text(_ATEXT, min_size=1, max_size=6)
        label = st.text(string.ascii_letters + string.digits, min_size=1, max_size=6)
        tld = st.sampled_from(["fr", "com", "test", "org", "co.uk"])
        local = draw(st.lists(atom, min_size=1, max_size=3).map(".".join))
        return local + "@" + ".".join([*draw(st.lists(label, min_size=1, max_size=2)), draw(tld)])
    atom = st.text(_ATEXT, max_size=6)
    local = draw(st.one_of(st.lists(atom, min_size=1, max_size=4).map(".".join), atom))
    label = st.one_of(st.text("abcXYZ019-", max_size=6), st.sampled_from(_ODD_LABELS))
    labels = draw(st.lists(label, max_size=3))
    domain = ".".join([*labels, draw(st.one_of(st.sampled_from(_TLDS), label))])
    at = draw(st.sampled_from(["@", "@", "@", "", "@@", "@x@"]))
    padding = draw(st.sampled_from(["", "", "a" * 200]))  # past the 254-character limit
    return padding + local + at + domain


def reference_email(value: str) -> str | None:
    try:
        email = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return email.normalized.lower()


@PROPERTY
@given(st.lists(st.one_of(emails(), st.text(_ATEXT + ".@", max_size=20)), min_size=1, max_size=60))
def test_email_agrees_with_email_validator(con: Any, fast_con: Any, values: list[str]) -> None:
    check_against(con, fast_con, DataClass.EMAIL, values, reference_email)


# --- shortcuts vs the full rules ---------------------------------------------------------------

_SPECIAL_OR_NOT = st.sampled_from(["arpa", "LOCAL", "onion", "invalid", "localhost", "fr", "Test"])
SHORTCUT_SHAPES: dict[DataClass, st.SearchStrategy[str]] = {
    DataClass.NIR: st.one_of(st.from_regex("[0-9]{15}", fullmatch=True), nirs()),
    DataClass.PHONE: st.one_of(
        st.from_regex(normalize._FR_NATIONAL_WRITTEN, fullmatch=True),
        st.sampled_from(_PHONE_PREFIXES).map(lambda p: p + "12 34 56 78"),
    ),
    DataClass.EMAIL: st.one_of(
        st.from_regex(normalize._EMAIL_EVERYDAY, fullmatch=True),
        st.builds(
            lambda local, last: f"{local}@mail.{last}",
            st.text("ab.-_+", max_size=70),
            _SPECIAL_OR_NOT,
        ),
        emails(),
    ),
    DataClass.AGENCY_ID: st.from_regex("[A-Za-z0-9]+", fullmatch=True),
    DataClass.RECORD_ID: st.from_regex("[ -~]+", fullmatch=True),
}
# What a real dump's fields look like: each must take its class's shortcut.
EVERYDAY_VALUES = {
    DataClass.NIR: "275063309897947",
    DataClass.PHONE: "06 47 41 52 92",
    DataClass.EMAIL: "marie-martine.robert26@outlook.test",
    DataClass.AGENCY_ID: "2503130K",
    DataClass.RECORD_ID: "P00000001",
}


def test_every_shortcut_is_tested() -> None:
    with_shortcut = {c for c in CLASSES if normalize.shortcut_of(c) is not None}
    assert with_shortcut == set(SHORTCUT_SHAPES) == set(EVERYDAY_VALUES)


@pytest.mark.parametrize("cls", list(EVERYDAY_VALUES), ids=str)
def test_everyday_values_take_the_shortcut(con: duckdb.DuckDBPyConnection, cls: DataClass) -> None:
    shortcut = normalize.shortcut_of(cls)
    assert shortcut is not None
    query = f"SELECT {shortcut.when('raw')} FROM (SELECT ?::VARCHAR AS raw)"
    row = con.execute(query, [EVERYDAY_VALUES[cls]]).fetchone()
    assert row == (True,)


@pytest.mark.parametrize("cls", list(SHORTCUT_SHAPES), ids=str)
def test_shortcuts_give_what_the_full_rule_gives(
    con: duckdb.DuckDBPyConnection, cls: DataClass
) -> None:
    """On values of the shortcut's shape and on any text: the same value, invalid or not."""
    with_shortcut = normalize.value_expr(cls, "raw")
    full = normalize.value_expr(cls, "raw", shortcut=False)
    query = f"SELECT raw, {with_shortcut}, {full} FROM (SELECT unnest(?::VARCHAR[]) AS raw)"

    @PROPERTY
    @given(st.lists(st.one_of(SHORTCUT_SHAPES[cls], _ANY_TEXT), min_size=1, max_size=60))
    def check(values: list[str]) -> None:
        for raw, fast, slow in con.execute(query, [values]).fetchall():
            assert fast == slow, f"{raw!r}: shortcut {fast!r}, full rule {slow!r}"

    check()


def _three_pass_fold(value: str, keep_digits: bool) -> str:
    """The fold as first written (punctuation to spaces, drop, collapse): the reference."""
    lowered = f"replace(replace(replace(lower({value}), 'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss')"
    spaced = normalize._sub(f"strip_accents({lowered})", normalize._PUNCTUATION, " ")
    dropped = normalize._sub(spaced, r"[^\pL0-9 ]" if keep_digits else r"[^\pL ]", "")
    return f"NULLIF(trim({normalize._sub(dropped, ' +', ' ')}), '')"


_MESSY_TEXT = st.one_of(_ANY_TEXT, st.text(" \t\u00a0\u2009-'.,$²½abcÉé0123456789()", max_size=30))


@PROPERTY
@given(st.lists(_MESSY_TEXT, min_size=1, max_size=60))
def test_fold_and_collapse_as_first_written(con: Any, values: list[str]) -> None:
    """Two passes instead of three (fold), no rewrite of single spaces (collapse): same text."""
    run = normalize._sub("raw", normalize._WS_RUN, " ")
    exprs = [
        normalize._fold("raw", True),
        _three_pass_fold("raw", True),
        normalize._fold("raw", False),
        _three_pass_fold("raw", False),
        normalize._collapse("raw"),
        f"CASE WHEN {normalize._has('raw', normalize._WS_RUN)} THEN {run} ELSE raw END",
    ]
    query = f"SELECT raw, {', '.join(exprs)} FROM (SELECT unnest(?::VARCHAR[]) AS raw)"
    for raw, *got in con.execute(query, [values]).fetchall():
        assert got[0] == got[1] and got[2] == got[3], f"fold of {raw!r}: {got[:4]}"
        assert got[4] == got[5], f"collapse of {raw!r}: {got[4:]}"


# --- IBAN vs python-stdnum ---------------------------------------------------------------------

_BBAN_SHAPES = {"FR": "nnnnnnnnnncccccccccccnn", "DE": "n" * 18, "GB": "aaaa" + "n" * 14}
_BBAN_CHARS = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + "ABCZ"}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(_BBAN_SHAPES)))
    bban = "".join(draw(st.sampled_from(_BBAN_CHARS[k])) for k in _BBAN_SHAPES[country])
    number = country + std_iban.calc_check_digits(country + "00" + bban) + bban
    if draw(st.booleans()):
        i = draw(st.integers(2, len(number) - 1))
        number = number[:i] + draw(st.sampled_from("0123456789A")) + number[i + 1 :]
    if draw(st.booleans()):
        number = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number.lower() if draw(st.booleans()) else number


def reference_iban(value: str) -> str | None:
    return std_iban.compact(value) if std_iban.is_valid(value) else None


@PROPERTY
@given(
    st.lists(
        st.one_of(ibans(), st.text("FRDEGB0123456789 -", max_size=30)), min_size=1, max_size=40
    )
)
def test_iban_agrees_with_stdnum(con: Any, fast_con: Any, values: list[str]) -> None:
    check_against(con, fast_con, DataClass.IBAN, values, reference_iban)


# --- IP vs ipaddress ---------------------------------------------------------------------------

_OCTETS = st.one_of(st.integers(0, 300).map(str), st.text("0123456789", max_size=4))


def reference_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.lists(_OCTETS, min_size=1, max_size=6).map(".".join),
            st.ip_addresses().map(str),
            st.ip_addresses(v=6).map(lambda ip: ip.exploded.upper()),
            st.text("0123456789abcdef:.", max_size=20),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_ip_agrees_with_ipaddress(con: Any, fast_con: Any, values: list[str]) -> None:
    check_against(con, fast_con, DataClass.IP_ADDRESS, values, reference_ip)


# --- dates -------------------------------------------------------------------------------------

_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d"]
_TIME_PARTS = ["", " 00:00:00", "T00:00:00", " 14:30", "T12:34:56.789Z"]
# A day of margin: DuckDB's current_date and Python's today may straddle midnight.
_YESTERDAY = dt.date.today() - dt.timedelta(days=1)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.dates(dt.date(1900, 1, 1), _YESTERDAY),
            st.sampled_from(_DATE_FORMATS),
            st.sampled_from(_TIME_PARTS),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_dates_parse_in_every_format(con: Any, cases: list[tuple[dt.date, str, str]]) -> None:
    values = [d.strftime(fmt) + time for d, fmt, time in cases]
    assert values_of(con, DataClass.DATE_OF_BIRTH, values) == [d for d, _, _ in cases]


@PROPERTY
@given(st.lists(st.dates(dt.date(_YESTERDAY.year - 99, 1, 1), _YESTERDAY), min_size=1))
def test_two_digit_years_pivot_to_the_last_century(con: Any, dates: list[dt.date]) -> None:
    values = [d.strftime("%d/%m/%y") for d in dates]
    assert values_of(con, DataClass.DATE_OF_BIRTH, values) == dates


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.dates(max_value=dt.date(1899, 12, 31)), st.dates(min_value=dt.date(3000, 1, 1))
        ),
        min_size=1,
    )
)
def test_dates_out_of_range_are_invalid(con: Any, dates: list[dt.date]) -> None:
    values = [d.isoformat() for d in dates]
    assert values_of(con, DataClass.DATE_OF_BIRTH, values) == [None] * len(dates)


# --- names -------------------------------------------------------------------------------------

_NAME_TEXT = st.text(st.sampled_from(list("aAéÉèçÇœŒßøÿ  -'’.\t\u00a0")), min_size=1, max_size=20)


@PROPERTY
@given(st.lists(_NAME_TEXT, min_size=1, max_size=40))
def test_name_display_form_is_a_fixed_point(con: Any, values: list[str]) -> None:
    first = evaluate(con, DataClass.LAST_NAME, values)
    displays = [row["last_name"] for row in first]
    again = evaluate(con, DataClass.LAST_NAME, displays)
    for row, twice in zip(first, again, strict=True):
        if row["last_name"] is None:
            continue
        assert twice["last_name"] == row["last_name"]
        assert twice["last_name_match"] == row["last_name_match"]
        assert re.fullmatch(r"[^\W\d_]+( [^\W\d_]+)*", row["last_name_match"]), row
        assert row["last_name_match"] == row["last_name_match"].lower()
