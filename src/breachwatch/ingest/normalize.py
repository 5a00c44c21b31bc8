"""Validate and normalise raw leak values per data class, set-based, in DuckDB SQL.

43 M rows must normalise at SQL speed, so every class has a pure-SQL *fast path* for the common
shapes. The reference libraries (python-stdnum, phonenumbers, email-validator, ipaddress) stay
the ground truth: the values the fast path cannot settle go to library-backed Python UDFs
(``register_udfs``), and property tests prove that the fast path agrees with the library on every
value it settles (tests/ingest/test_normalize.py).

Every expression is NULL-safe and never raises. For each slot:

* value: the normalised form, NULL when the raw value is NULL, blank or invalid;
* ``<slot>_valid``: NULL when the raw value is NULL or blank, else whether the value is valid;
* ``<slot>_match`` (slots with a match form): the folded form linkage compares, NULL when invalid.

Display forms: person names, cities and places of birth are title-cased ("Saint-Étienne"), not
upper-cased as French postal practice would have it, because one display form serves letters,
e-mails and reports; upper-casing an envelope line is a formatting concern at the edge.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import phonenumbers
from duckdb.func import FunctionNullHandling
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from stdnum import iban as std_iban
from stdnum import numdb
from stdnum.fr import nir as std_nir
from stdnum.util import get_cc_module

from breachwatch.types import DataClass, Slot, slot_columns

# Providers that ignore dots in the local part; gmail.test is the synthetic data's stand-in.
DOTLESS_DOMAINS = ("gmail.com", "googlemail.com", "gmail.test")

# French address abbreviations, expanded token-wise in the address match form.
ADDRESS_ABBREVIATIONS: dict[str, str] = {
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "boul": "boulevard",
    "r": "rue",
    "pl": "place",
    "imp": "impasse",
    "all": "allee",
    "ch": "chemin",
    "che": "chemin",
    "rte": "route",
    "fbg": "faubourg",
    "st": "saint",
    "ste": "sainte",
    "sq": "square",
    "crs": "cours",
    "qu": "quai",
    "res": "residence",
}
# City names abbreviate only the saints ("ST ETIENNE" on a 38-character address line).
_SAINT_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}

GENDER_CODES: dict[str, tuple[str, ...]] = {
    # Compared after lower-casing, stripping accents, dots and spaces; 1/2 follow the NIR.
    "M": ("m", "h", "1", "homme", "masculin", "masc", "male", "man", "mr", "monsieur"),
    "F": (
        "f",
        "2",
        "femme",
        "feminin",
        "fem",
        "female",
        "woman",
        "mme",
        "mlle",
        "melle",
        "madame",
        "mademoiselle",
        "mrs",
        "ms",
        "miss",
    ),
}

# Every character Python's str.isspace() accepts (what stdnum's strip() removes), plus the
# zero-width space and BOM that spreadsheets leave behind.
_WS_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
_WS_CLASS = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in _WS_CHARS) + "]"
_NON_ASCII = r"[^\x00-\x7F]"

# Library-backed UDF names, one per class whose fast path has a fallback.
UDF_PHONE = "bw_phone_e164"
UDF_EMAIL = "bw_email_normalized"
UDF_NIR = "bw_nir_compact"
UDF_IBAN = "bw_iban_compact"
UDF_IP = "bw_ip_canonical"


def _lit(text: str) -> str:
    """A SQL string literal (DuckDB keeps backslashes verbatim, so regexes pass as-is)."""
    return "'" + text.replace("'", "''") + "'"


def _full(expr: str, pattern: str) -> str:
    return f"regexp_full_match({expr}, {_lit(pattern)})"


def _has(expr: str, pattern: str) -> str:
    return f"regexp_matches({expr}, {_lit(pattern)})"


def _sub(expr: str, pattern: str, replacement: str) -> str:
    return f"regexp_replace({expr}, {_lit(pattern)}, {_lit(replacement)}, 'g')"


def _present(raw: str) -> str:
    """The trimmed raw value, NULL when blank: the input of every class rule."""
    return f"NULLIF(trim(CAST({raw} AS VARCHAR), {_lit(_WS_CHARS)}), '')"


def _collapse(expr: str) -> str:
    return _sub(expr, _WS_CLASS + "+", " ")


def _when(condition: str, expr: str) -> str:
    return f"CASE WHEN {condition} THEN {expr} END"


# --- NIR ---------------------------------------------------------------------------------------


_NIR_SEPARATORS = r"[ .\-]"  # the brief's separators; stdnum itself keeps dashes


def _nir(p: str) -> str:
    # stdnum maps Unicode digits, dashes and spaces to ASCII first: non-ASCII goes to the library.
    c = f"upper({_sub(p, _NIR_SEPARATORS, '')})"
    number = f"try_cast(replace(replace(left({c}, 13), '2A', '19'), '2B', '18') AS BIGINT)"
    key_ok = f"try_cast(right({c}, 2) AS INTEGER) = 97 - {number} % 97"
    shape = _full(c, "[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}")
    return (
        f"CASE WHEN {_has(p, _NON_ASCII)} THEN {UDF_NIR}({p}) "
        f"WHEN {shape} AND {key_ok} THEN {c} END"
    )


def _nir_udf(value: str) -> str | None:
    # The brief also strips dashes, which stdnum's compact() keeps.
    number = std_nir.compact(value).replace("-", "")
    return number if std_nir.is_valid(number) else None


# --- phone -------------------------------------------------------------------------------------

_FR_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
# A plain French number after removing separators: national (0X), bare 9 digits (a spreadsheet
# dropped the 0), +33 / 0033 / 33 prefixes, and +33 (0) X. Group 1 is the national number.
_FR_SHAPE = r"^(?:0|\+330?|0033|33)?([1-9][0-9]{8})$"
_PHONE_SEPARATORS = r"[ .\-/()\x{00A0}]"
# phonenumbers refuses inputs longer than this; such values go to the library.
_PHONE_MAX_FAST_LENGTH = 40


def _fr_valid_patterns() -> tuple[str, str]:
    """(general pattern, any-type pattern) a 9-digit French national number must both match.

    Taken from phonenumbers' own metadata so the fast path follows the library's ranges
    (e.g. 0639, 0690-0694 are not allocated mobile blocks and are invalid).
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region("FR")
    assert meta is not None and meta.general_desc is not None
    general = meta.general_desc.national_number_pattern
    assert general is not None
    types = []
    for name in _FR_TYPES:
        desc = getattr(meta, name)
        if desc is None or desc.national_number_pattern is None:
            continue
        if desc.possible_length and 9 not in desc.possible_length:
            continue
        types.append(f"(?:{desc.national_number_pattern})")
    return general, "|".join(types)


_FR_GENERAL, _FR_ANY_TYPE = _fr_valid_patterns()


def _phone(p: str) -> str:
    s = _sub(p, _PHONE_SEPARATORS, "")
    nsn = f"regexp_extract({s}, {_lit(_FR_SHAPE)}, 1)"
    valid = f"{_full(nsn, _FR_GENERAL)} AND {_full(nsn, _FR_ANY_TYPE)}"
    return (
        f"CASE WHEN {nsn} = '' OR length({p}) > {_PHONE_MAX_FAST_LENGTH} THEN {UDF_PHONE}({p}) "
        f"WHEN {valid} THEN '+33' || {nsn} END"
    )


def _phone_udf(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- e-mail ------------------------------------------------------------------------------------

_ATEXT = r"[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]"
# The fast path's universe: printable ASCII without quotes, spaces, brackets, commas... Inside
# it validity is decided by the regex below; outside it (quoted local parts, Unicode, display
# names) the library decides.
_EMAIL_PLAIN = r"[a-zA-Z0-9_!#$%&'*+/=?^`{|}~.@-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TLD = r"(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]"  # email-validator: the TLD ends with a letter
# "x@test" is allowed with test_environment=True, as in email-validator.
_EMAIL_VALID = rf"(?i){_ATEXT}+(?:\.{_ATEXT}+)*@(?:(?:{_LABEL}\.)+{_TLD}|test)"
_SPECIAL_USE_NAMES = "|".join(re.escape(d) for d in SPECIAL_USE_DOMAIN_NAMES if d != "test")
_SPECIAL_USE = rf"(?:^|\.)(?:{_SPECIAL_USE_NAMES})$"
_BAD_HYPHENS = r"(?:^|\.)[^.]{2}--"
_EMAIL_MAX_LENGTH = 254
_DOMAIN_MAX_LENGTH = 253


def _email_input(p: str) -> str:
    """The address without surrounding <> and mailto: (what both paths validate)."""
    unbracketed = f"regexp_replace({p}, '(?s)^<(.*)>$', '\\1')"
    return f"trim(regexp_replace({unbracketed}, '(?i)^mailto:', ''), {_lit(_WS_CHARS)})"


def _email(p: str) -> str:
    e = _email_input(p)
    domain = f"lower(split_part({e}, '@', 2))"
    # Labels with "--" in positions 3-4 are only allowed as Punycode (xn--), which the library
    # decodes: those go to the UDF, the others are invalid.
    settled = f"{_full(e, _EMAIL_PLAIN)} AND NOT contains(lower({e}), 'xn--')"
    valid = " AND ".join(
        (
            _full(e, _EMAIL_VALID),
            f"length({e}) <= {_EMAIL_MAX_LENGTH}",
            f"length({domain}) <= {_DOMAIN_MAX_LENGTH}",
            f"NOT {_has(domain, _SPECIAL_USE)}",
            f"NOT {_has(domain, _BAD_HYPHENS)}",
        )
    )
    return f"CASE WHEN NOT ({settled}) THEN {UDF_EMAIL}({e}) WHEN {valid} THEN lower({e}) END"


def _email_match(value: str) -> str:
    local = f"regexp_extract({value}, '^(.*)@', 1)"
    domain = f"regexp_extract({value}, '@([^@]*)$', 1)"
    # "+tag" is a sub-address; keep the local part when it is all tag.
    untagged = f"coalesce(NULLIF(regexp_replace({local}, '\\+.*$', ''), ''), {local})"
    dotless = ", ".join(_lit(d) for d in DOTLESS_DOMAINS)
    folded = (
        f"CASE WHEN {domain} IN ({dotless}) THEN replace({untagged}, '.', '') ELSE {untagged} END"
    )
    return f"{folded} || '@' || {domain}"


def _email_udf(value: str) -> str | None:
    try:
        email = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return email.normalized.lower()


# --- date of birth -----------------------------------------------------------------------------

_TIME_SUFFIX = (
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]*)?)?\s*(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
_SEP = r"[-/.]"
_YMD = rf"^([0-9]{{4}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})"
_DMY = rf"^([0-9]{{1,2}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{4}})"
_COMPACT = r"^([0-9]{4})([0-9]{2})([0-9]{2})"
_DMY2 = rf"^([0-9]{{1,2}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{2}})"
_ISO_YMD, _ISO_DMY = r"\1-\2-\3", r"\3-\2-\1"


def _date(p: str) -> str:
    def iso(pattern: str, template: str) -> str:
        return f"try_cast(regexp_replace({p}, {_lit(pattern + _TIME_SUFFIX)}, {_lit(template)}) AS DATE)"

    def matches(pattern: str) -> str:
        return _full(p, pattern + _TIME_SUFFIX)

    # Two-digit years: the 21st century unless that puts the birth after today.
    y2000, y1900 = iso(_DMY2, r"20\3-\2-\1"), iso(_DMY2, r"19\3-\2-\1")
    parsed = (
        f"CASE WHEN {matches(_YMD)} THEN {iso(_YMD, _ISO_YMD)} "
        f"WHEN {matches(_DMY)} THEN {iso(_DMY, _ISO_DMY)} "
        f"WHEN {matches(_COMPACT)} THEN {iso(_COMPACT, _ISO_YMD)} "
        f"WHEN {matches(_DMY2)} THEN CASE WHEN {y2000} > current_date THEN {y1900} ELSE {y2000} END "
        "END"
    )
    return _when(f"{parsed} BETWEEN DATE '1900-01-01' AND current_date", parsed)


# --- names, places, addresses ------------------------------------------------------------------


_WORD_OR_SEPARATORS = "[^ \\-'’]+|[ \\-'’]+"
_LETTER, _DIGIT = r"\pL", r"\pN"


def _title(p: str) -> str:
    """Title case per word, where hyphens and apostrophes also start a word (Jean-Pierre)."""
    parts = f"regexp_extract_all({_collapse(p)}, {_lit(_WORD_OR_SEPARATORS)})"
    return f"array_to_string(list_transform({parts}, t -> upper(t[1]) || lower(t[2:])), '')"


def _fold(value: str, keep_digits: bool) -> str:
    """Lower-case, accent-free, punctuation as spaces, other non-letters dropped, collapsed."""
    lowered = f"replace(replace(replace(lower({value}), 'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss')"
    spaced = _sub(f"strip_accents({lowered})", r"[\pP\pZ\s]+", " ")
    kept = r"[^\pL0-9 ]" if keep_digits else r"[^\pL ]"
    return f"NULLIF(trim({_sub(_sub(spaced, kept, ''), ' +', ' ')}), '')"


def _expand(folded: str, abbreviations: dict[str, str]) -> str:
    cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in abbreviations.items())
    tokens = f"string_split({folded}, ' ')"
    return f"array_to_string(list_transform({tokens}, t -> CASE t {cases} ELSE t END), ' ')"


def _name(p: str) -> str:
    return _when(f"{_has(p, _LETTER)} AND NOT {_has(p, _DIGIT)}", _title(p))


def _place(p: str) -> str:
    return _when(_has(p, _LETTER), _title(p))


def _address_match(value: str) -> str:
    folded = _fold(value, keep_digits=True)
    # "12bis" -> "12 bis", so that both spellings fold the same.
    split = _sub(folded, r"([0-9])(bis|ter)\b", r"\1 \2")
    return _expand(split, ADDRESS_ABBREVIATIONS)


# --- simple classes ----------------------------------------------------------------------------

_POSTAL_CODE = r"(?:0[1-9]|[1-8][0-9]|9[0-5])[0-9]{3}|97[1-8][0-9]{2}|98[0-9]{3}"


def _postal_code(p: str) -> str:
    digits = _sub(p, _WS_CLASS, "")
    padded = f"CASE WHEN {_full(digits, '[0-9]{4}')} THEN '0' || {digits} ELSE {digits} END"
    return _when(_full(padded, _POSTAL_CODE), padded)


def _gender(p: str) -> str:
    code = _sub(f"strip_accents(lower({p}))", r"[.\s]", "")
    whens = " ".join(
        f"WHEN {code} IN ({', '.join(_lit(c) for c in codes)}) THEN {_lit(g)}"
        for g, codes in GENDER_CODES.items()
    )
    return f"CASE {whens} END"


def _iban_formats() -> tuple[str, tuple[str, ...]]:
    """(regex of every IBAN stdnum knows, countries whose extra national check needs stdnum)."""
    kinds = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}
    db = numdb.get("iban")
    patterns, delegated = [], []
    for cc in (a + b for a in string.ascii_uppercase for b in string.ascii_uppercase):
        bban = db.info(cc)[0][1].get("bban")
        if not bban:
            continue
        if get_cc_module(cc, "iban"):
            delegated.append(cc)
        body = re.sub(r"([1-9][0-9]*)!([nac])", lambda m: f"{kinds[m[2]]}{{{m[1]}}}", bban)
        patterns.append(f"{cc}[A-Z0-9]{{2}}{body}")
    return "|".join(patterns), tuple(delegated)


_IBAN_RE, _IBAN_DELEGATED = _iban_formats()


def _mod97(expr: str) -> str:
    """ISO 7064 mod 97-10 of an alphanumeric string (letters count as 10..35)."""
    values = f"list_transform(string_split({expr}, ''), ch -> CASE WHEN ch <= '9' THEN ord(ch) - 48 ELSE ord(ch) - 55 END)"
    return f"list_reduce({values}, (acc, x) -> (acc * CASE WHEN x >= 10 THEN 100 ELSE 10 END + x) % 97, 0)"


_IBAN_SEPARATORS = r"[ .\-]"  # stdnum.iban.compact's


def _iban(p: str) -> str:
    c = f"upper({_sub(p, _IBAN_SEPARATORS, '')})"
    delegated = ", ".join(_lit(cc) for cc in _IBAN_DELEGATED)
    checksum = _mod97(f"substr({c}, 5) || left({c}, 4)")
    return (
        f"CASE WHEN {_has(p, _NON_ASCII)} OR left({c}, 2) IN ({delegated}) THEN {UDF_IBAN}({p}) "
        f"WHEN {_full(c, _IBAN_RE)} AND {checksum} = 1 THEN {c} END"
    )


def _iban_udf(value: str) -> str | None:
    return std_iban.compact(value) if std_iban.is_valid(value) else None


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # no leading zeros, as ipaddress
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"


def _ip(p: str) -> str:
    return f"CASE WHEN contains({p}, ':') THEN {UDF_IP}({p}) WHEN {_full(p, _IPV4)} THEN {p} END"


def _ip_udf(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


_HASH_FORMATS = (
    r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}",  # MD5, SHA-1, SHA-256, SHA-512
    r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}",  # bcrypt
    r"\$argon2(?:id|i|d)\$\S+",  # argon2 PHC string
)


def _password_hash(p: str) -> str:
    # Hex digests are lower-cased so the same hash compares equal across leaks.
    hashed = f"CASE WHEN {_full(p, '(?i)' + _HASH_FORMATS[0])} THEN lower({p}) ELSE {p} END"
    return _when(_full(hashed, "|".join(_HASH_FORMATS)), hashed)


# --- assembly ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    value: Callable[[str], str]  # present (trimmed, non-blank) raw -> value, NULL when invalid
    match: Callable[[str], str] | None = None  # value -> match form


def _city_match(value: str) -> str:
    return _expand(_fold(value, keep_digits=True), _SAINT_ABBREVIATIONS)


def _name_match(value: str) -> str:
    return _fold(value, keep_digits=False)


_RULES: dict[DataClass, _Rule] = {
    DataClass.NIR: _Rule(_nir),
    DataClass.PHONE: _Rule(_phone),
    DataClass.EMAIL: _Rule(_email, _email_match),
    DataClass.DATE_OF_BIRTH: _Rule(_date),
    DataClass.FIRST_NAME: _Rule(_name, _name_match),
    DataClass.LAST_NAME: _Rule(_name, _name_match),
    DataClass.BIRTH_NAME: _Rule(_name, _name_match),
    DataClass.CITY: _Rule(_place, _city_match),
    DataClass.PLACE_OF_BIRTH: _Rule(_place, _city_match),
    DataClass.POSTAL_ADDRESS: _Rule(
        lambda p: _when(_has(p, _LETTER), _collapse(p)), _address_match
    ),
    DataClass.POSTAL_CODE: _Rule(_postal_code),
    DataClass.GENDER: _Rule(_gender),
    DataClass.IBAN: _Rule(_iban),
    DataClass.AGENCY_ID: _Rule(lambda p: _when(_full(f"upper({p})", "[A-Z0-9]+"), f"upper({p})")),
    DataClass.RECORD_ID: _Rule(lambda p: p),
    DataClass.IP_ADDRESS: _Rule(_ip),
    DataClass.PASSWORD: _Rule(lambda p: p),
    DataClass.PASSWORD_HASH: _Rule(_password_hash),
    DataClass.EMPLOYER: _Rule(_collapse),
    DataClass.FREE_TEXT: _Rule(lambda p: p),
}


def slot_exprs(slot: Slot, raw: str) -> dict[str, str]:
    """{column: DuckDB SQL expression} for every column of ``slot_columns(slot)``.

    ``raw`` is a SQL expression of the raw VARCHAR value (e.g. ``'"c7"'``). The expressions
    repeat shared sub-expressions; DuckDB's common-subexpression elimination evaluates them once
    per row when they sit in the same SELECT.
    """
    rule = _RULES[slot.data_class]
    p = _present(raw)
    value = rule.value(p)
    exprs = {
        slot.name: value,
        f"{slot.name}_valid": _when(f"{p} IS NOT NULL", f"({value}) IS NOT NULL"),
    }
    if slot.match_form:
        assert rule.match is not None, f"{slot.data_class} has no match form"
        exprs[f"{slot.name}_match"] = rule.match(value)
    assert list(exprs) == [name for name, _ in slot_columns(slot)]
    return exprs


_UDFS: dict[str, Callable[[str], str | None]] = {
    UDF_NIR: _nir_udf,
    UDF_PHONE: _phone_udf,
    UDF_EMAIL: _email_udf,
    UDF_IBAN: _iban_udf,
    UDF_IP: _ip_udf,
}


def register_udfs(con: duckdb.DuckDBPyConnection) -> None:
    """Register the library-backed fallback UDFs the expressions call; idempotent."""
    rows = con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE list_contains(?, function_name)",
        [list(_UDFS)],
    ).fetchall()
    existing = {name for (name,) in rows}
    for name, function in _UDFS.items():
        if name in existing:
            continue
        con.create_function(
            name,
            _null_safe(function),
            [duckdb.sqltypes.VARCHAR],
            duckdb.sqltypes.VARCHAR,
            # SPECIAL: the UDFs return NULL for invalid values, which DEFAULT forbids.
            null_handling=FunctionNullHandling.SPECIAL,
            # A library bug must not abort a 43 M-row load: the value is then invalid.
            exception_handling=duckdb.PythonExceptionHandling.RETURN_NULL,
        )


def _null_safe(function: Callable[[str], str | None]) -> Callable[[str | None], str | None]:
    def udf(value: str | None) -> str | None:
        return None if value is None else function(value)

    return udf
