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
import pyarrow as pa
from duckdb.func import FunctionNullHandling, PythonUDFType
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
    **dict.fromkeys(("av", "ave"), "avenue"),
    **dict.fromkeys(("bd", "bld", "blvd", "boul"), "boulevard"),
    **dict.fromkeys(("ch", "che"), "chemin"),
    "r": "rue",
    "pl": "place",
    "imp": "impasse",
    "all": "allee",
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

# Compared after lower-casing and stripping accents, dots and spaces; 1/2 follow the NIR.
GENDER_CODES: dict[str, tuple[str, ...]] = {
    "M": ("m", "h", "1", "homme", "masculin", "masc", "male", "man", "mr", "monsieur"),
    "F": ("f", "2", "femme", "feminin", "fem", "female", "woman", "mme", "mlle", "melle")
    + ("madame", "mademoiselle", "mrs", "ms", "miss"),
}

# Library-backed UDF names, one per class whose fast path has a fallback.
UDF_PHONE = "bw_phone_e164"
UDF_EMAIL = "bw_email_normalized"
UDF_NIR = "bw_nir_compact"
UDF_IBAN = "bw_iban_compact"
UDF_IP = "bw_ip_canonical"

# Every character Python's str.isspace() accepts (what stdnum's strip() removes), plus the
# zero-width space and BOM that spreadsheets leave behind.
_WS_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
_WS = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in _WS_CHARS) + "]"
_NOT_WS = "[^" + _WS[1:]
_WS_AT_EDGE = f"^{_WS}|{_WS}$"
_WS_EDGES = f"^{_WS}+|{_WS}+$"
_WS_RUN = f"{_WS}+"
_NON_ASCII = r"[^\x00-\x7F]"
_LETTER, _DIGIT = r"\pL", r"\pN"


# --- SQL building blocks -----------------------------------------------------------------------


def _lit(text: str) -> str:
    """A SQL string literal (DuckDB keeps backslashes verbatim, so regexes pass as-is)."""
    return "'" + text.replace("'", "''") + "'"


def _full(expr: str, pattern: str) -> str:
    return f"regexp_full_match({expr}, {_lit(pattern)})"


def _has(expr: str, pattern: str) -> str:
    return f"regexp_matches({expr}, {_lit(pattern)})"


def _sub(expr: str, pattern: str, replacement: str) -> str:
    return f"regexp_replace({expr}, {_lit(pattern)}, {_lit(replacement)}, 'g')"


def _when(condition: str, expr: str) -> str:
    return f"CASE WHEN {condition} THEN {expr} END"


def _let(value: str, name: str, body: Callable[[str], str]) -> str:
    """``body`` with ``value`` computed once per row and bound to ``name``.

    DuckDB has no LET, and its common-subexpression elimination skips CASE branches and
    AND/OR, where these rules repeat their intermediates: a one-element list_transform binds
    them. ``name`` must be unique along a nesting chain.
    """
    return f"list_transform([{value}], lambda {name}: {body(name)})[1]"


def _present(raw: str) -> str:
    """The raw value trimmed of all Unicode whitespace, NULL when blank."""
    text = f"CAST({raw} AS VARCHAR)"
    # Trimming a set of 30 characters costs ~3x a regex test: trim only values that need it.
    trimmed = (
        f"CASE WHEN {_has(text, _WS_AT_EDGE)} THEN {_sub(text, _WS_EDGES, '')} ELSE {text} END"
    )
    return f"NULLIF({trimmed}, '')"


# Whitespace that collapsing would change: anything but a lone ASCII space (nearly every
# address has single spaces, which need no rewrite).
_WS_TO_COLLAPSE = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in _WS_CHARS if c != " ") + "]|  "


def _collapse(expr: str) -> str:
    return (
        f"CASE WHEN {_has(expr, _WS_TO_COLLAPSE)} THEN {_sub(expr, _WS_RUN, ' ')} ELSE {expr} END"
    )


# --- NIR ---------------------------------------------------------------------------------------

_NIR_SEPARATORS = " .-"  # the brief's; stdnum's compact() keeps dashes
_NIR_SHAPE = "[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}"


def _nir(p: str) -> str:
    def check(c: str) -> str:
        # Corsica: 2A and 2B count as 19 and 18 in the key computation.
        number = f"try_cast(replace(replace(left({c}, 13), '2A', '19'), '2B', '18') AS BIGINT)"
        key_ok = f"try_cast(right({c}, 2) AS INTEGER) = 97 - {number} % 97"
        return _when(f"{_full(c, _NIR_SHAPE)} AND {key_ok}", c)

    # stdnum maps Unicode digits, dashes and spaces to ASCII: non-ASCII goes to the library.
    compact = _let(f"upper(translate({p}, {_lit(_NIR_SEPARATORS)}, ''))", "bw_c", check)
    return f"CASE WHEN {_has(p, _NON_ASCII)} THEN {UDF_NIR}({p}) ELSE {compact} END"


def _nir_key_checked(digits: str) -> str:
    """The value of 15 ASCII digits: ``digits`` when its key is right (what ``_nir`` gives)."""
    number = f"try_cast(left({digits}, 13) AS BIGINT)"
    key_ok = f"try_cast(right({digits}, 2) AS INTEGER) = 97 - {number} % 97"
    return _when(key_ok, digits)


def _nir_udf(value: str) -> str | None:
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
# A plain French number once separators are gone: national (0X), bare 9 digits (a spreadsheet
# dropped the 0), +33 / 0033 / 33 prefixes and +33 (0) X. Group 1 is the national number.
_FR_SHAPE = r"^(?:0|\+330?|0033|33)?([1-9][0-9]{8})$"
_PHONE_SEPARATORS = " .-/()\u00a0"
# phonenumbers refuses inputs over 250 characters; long values go to the library.
_PHONE_MAX_FAST_LENGTH = 40


def _fr_valid_patterns() -> tuple[str, str]:
    """(general pattern, any-type pattern) a 9-digit French national number must both match.

    Read from phonenumbers' own metadata so that the fast path follows the library's ranges
    (e.g. 0639 and 0690-0694 are not mobile blocks and are invalid).
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


# phonenumbers needs at least two decimal digits to see a number at all (its shortest viable
# number): values without them ("Jean", "n/a") are settled here instead of costing a Python
# call each (the classifier tries every column's sample as phones: 1.1 s of 17 x 1,000 values).
_PHONE_DIGITS = r"(?s)\p{Nd}.*\p{Nd}"


def _phone(p: str) -> str:
    def settle(nsn: str) -> str:
        library = _when(_has(p, _PHONE_DIGITS), f"{UDF_PHONE}({p})")
        return (
            f"CASE WHEN {nsn} = '' OR length({p}) > {_PHONE_MAX_FAST_LENGTH} THEN {library} "
            f"WHEN {_full(nsn, _FR_GENERAL)} AND {_full(nsn, _FR_ANY_TYPE)} THEN '+33' || {nsn} END"
        )

    digits = f"translate({p}, {_lit(_PHONE_SEPARATORS)}, '')"
    return _let(f"regexp_extract({digits}, {_lit(_FR_SHAPE)}, 1)", "bw_nsn", settle)


# A French national number written the usual way: 0X then four pairs, each pair optionally after
# one space or dot ("0647415292", "06 47 41 52 92", "06.47.41.52.92").
_FR_NATIONAL_WRITTEN = r"0[1-9](?:[ .]?[0-9]{2}){4}"


def _fr_national(raw: str) -> str:
    """The value of a raw number of ``_FR_NATIONAL_WRITTEN`` shape (what ``_phone`` gives)."""
    nsn = f"replace(replace(substr({raw}, 2), ' ', ''), '.', '')"
    valid = f"{_full('bw_s', _FR_GENERAL)} AND {_full('bw_s', _FR_ANY_TYPE)}"
    return _let(nsn, "bw_s", lambda n: _when(valid.replace("bw_s", n), f"'+33' || {n}"))


def phone_e164(value: str, region: str = "FR") -> str | None:
    """A valid phone number in E.164 (numbers without a country code read in ``region``)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_udf(value: str) -> str | None:
    return phone_e164(value, "FR")


# --- e-mail ------------------------------------------------------------------------------------

_ATEXT = r"[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]"
# The fast path's universe: printable ASCII without quotes, spaces, brackets, commas... Inside
# it the regex below decides; outside it (quoted local parts, Unicode, display names) the
# library does.
_EMAIL_PLAIN = r"[a-zA-Z0-9_!#$%&'*+/=?^`{|}~.@-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TLD = r"(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]"  # email-validator: the TLD ends with a letter
# "x@test" is allowed with test_environment=True, as in email-validator.
_EMAIL_VALID = rf"(?i){_ATEXT}+(?:\.{_ATEXT}+)*@(?:(?:{_LABEL}\.)+{_TLD}|test)"
_SPECIAL_USE_NAMES = "|".join(re.escape(d) for d in SPECIAL_USE_DOMAIN_NAMES if d != "test")
_SPECIAL_USE = rf"(?:^|\.)(?:{_SPECIAL_USE_NAMES})$"
# "ab--c" is reserved for IDNA; "xn--" labels are Punycode, which only the library decodes.
_BAD_HYPHENS = r"(?:^|\.)[^.]{2}--"
_EMAIL_MAX_LENGTH = 254
_DOMAIN_MAX_LENGTH = 253
_EMAIL_WRAPPED = r"(?i)^(?:<|mailto:)"
_EMAIL_BRACKETS = r"(?s)^<(.*)>$"
_EMAIL_MAILTO = r"(?i)^mailto:"


def _email_input(p: str) -> str:
    """The address without surrounding <> and mailto: (what both paths validate)."""
    unbracketed = f"regexp_replace({p}, {_lit(_EMAIL_BRACKETS)}, '\\1')"
    unwrapped = f"regexp_replace({unbracketed}, {_lit(_EMAIL_MAILTO)}, '')"
    stripped = f"NULLIF({_sub(unwrapped, _WS_EDGES, '')}, '')"
    return f"CASE WHEN {_has(p, _EMAIL_WRAPPED)} THEN {stripped} ELSE {p} END"


def _email(p: str) -> str:
    def settle(e: str) -> str:
        domain = f"lower(split_part({e}, '@', 2))"
        plain = f"{_full(e, _EMAIL_PLAIN)} AND NOT contains(lower({e}), 'xn--')"
        valid = " AND ".join(
            (
                _full(e, _EMAIL_VALID),
                f"length({e}) <= {_EMAIL_MAX_LENGTH}",
                f"length({domain}) <= {_DOMAIN_MAX_LENGTH}",
                f"NOT {_has(domain, _SPECIAL_USE)}",
                f"NOT {_has(domain, _BAD_HYPHENS)}",
            )
        )
        # email-validator splits at the ASCII "@" only: without one, no Python call is needed.
        library = _when(f"contains({e}, '@')", f"{UDF_EMAIL}({e})")
        return f"CASE WHEN NOT ({plain}) THEN {library} WHEN {valid} THEN lower({e}) END"

    return _let(_email_input(p), "bw_e", settle)


# An everyday address: dot- or hyphen-separated words before the @, hyphenated labels after,
# a last label of letters. No space, quote, bracket, "mailto:" or "--" (so no "xn--" and no
# reserved hyphens); with at most _EMAIL_SHORT characters no label can exceed 63 either.
_EMAIL_EVERYDAY = r"(?i)[a-z0-9_+]+(?:[.-][a-z0-9_+]+)*@(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z]+"
_EMAIL_SHORT = 64
_SPECIAL_USE_LAST_LABEL = rf"(?i)[.@](?:{_SPECIAL_USE_NAMES})$"


def _email_everyday(raw: str) -> str:
    return f"strlen({raw}) <= {_EMAIL_SHORT} AND {_full(raw, _EMAIL_EVERYDAY)}"


def _email_everyday_value(raw: str) -> str:
    """What ``_email`` gives for an everyday address: lower-cased unless special-use."""
    return _when(f"NOT {_has(raw, _SPECIAL_USE_LAST_LABEL)}", f"lower({raw})")


def _email_match(value: str) -> str:
    """Lower-case, without +tag, and without dots where the provider ignores them."""
    # A valid address has exactly one @: email-validator refuses quoted local parts.
    local, domain = f"split_part({value}, '@', 1)", f"split_part({value}, '@', 2)"
    # A local part that is all tag keeps its tag rather than becoming empty.
    untagged = f"coalesce(NULLIF(split_part({local}, '+', 1), ''), {local})"
    dotless = ", ".join(_lit(d) for d in DOTLESS_DOMAINS)
    dots = f"CASE WHEN {domain} IN ({dotless}) THEN '.' ELSE '' END"
    return f"replace({untagged}, {dots}, '') || '@' || {domain}"


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
_SEP = "[-/.]"
_D, _M, _Y, _YY = "([0-9]{1,2})", "([0-9]{1,2})", "([0-9]{4})", "([0-9]{2})"
_DATE_FORMATS = (
    # (pattern, ISO template): French day-first order wins over US month-first.
    (f"^{_Y}{_SEP}{_M}{_SEP}{_D}{_TIME_SUFFIX}", r"\1-\2-\3"),
    (f"^{_D}{_SEP}{_M}{_SEP}{_Y}{_TIME_SUFFIX}", r"\3-\2-\1"),
    (f"^([0-9]{{4}})([0-9]{{2}})([0-9]{{2}}){_TIME_SUFFIX}", r"\1-\2-\3"),
)
_DATE_2DIGIT = f"^{_D}{_SEP}{_M}{_SEP}{_YY}{_TIME_SUFFIX}"
_ISO_2000, _ISO_1900 = r"20\3-\2-\1", r"19\3-\2-\1"


def _date(p: str) -> str:
    def as_date(pattern: str, template: str) -> str:
        return f"try_cast(regexp_replace({p}, {_lit(pattern)}, {_lit(template)}) AS DATE)"

    # Two-digit years: the 21st century unless that puts the birth after today.
    y1900 = as_date(_DATE_2DIGIT, _ISO_1900)
    pivot = _let(
        as_date(_DATE_2DIGIT, _ISO_2000),
        "bw_y2000",
        lambda d: f"CASE WHEN {d} > current_date THEN {y1900} ELSE {d} END",
    )
    whens = " ".join(
        f"WHEN {_full(p, pattern)} THEN {as_date(pattern, template)}"
        for pattern, template in _DATE_FORMATS
    )
    parsed = f"CASE {whens} WHEN {_full(p, _DATE_2DIGIT)} THEN {pivot} END"
    in_range = "BETWEEN DATE '1900-01-01' AND current_date"
    return _let(parsed, "bw_date", lambda d: _when(f"{d} {in_range}", d))


def _birth_year(p: str) -> str:
    """A four-digit year from 1900 to this year ("1985", " 1985 ", "1985.0" from a spreadsheet)."""
    year = f"try_cast(regexp_extract({p}, '^([0-9]{{4}})(\\.0+)?$', 1) AS INTEGER)"
    return _let(year, "bw_year", lambda y: _when(f"{y} BETWEEN 1900 AND year(current_date)", y))


# --- names, places, addresses ------------------------------------------------------------------

# Words and the runs of separators between them: after a hyphen, an apostrophe, an opening
# parenthesis or a dot a new word starts (Jean-Pierre, D'Artagnan, Alger (Algérie), J.-P.).
_WORD_BREAKS = _WS[1:-1] + "\\-'’(./\"«"
_WORDS = f"[^{_WORD_BREAKS}]+|[{_WORD_BREAKS}]+"
_SEPARATOR_TOKEN = f"^[{_WORD_BREAKS}]"
_PUNCTUATION = r"[\pP\pZ\s]+"


def _title(p: str) -> str:
    """Title case per word, whitespace runs collapsed to one space."""
    word = "upper(bw_t[1]) || lower(bw_t[2:])"
    separator = _sub("bw_t", _WS_RUN, " ")
    token = f"CASE WHEN {_has('bw_t', _SEPARATOR_TOKEN)} THEN {separator} ELSE {word} END"
    tokens = f"regexp_extract_all({p}, {_lit(_WORDS)})"
    return f"array_to_string(list_transform({tokens}, lambda bw_t: {token}), '')"


def _fold(value: str, keep_digits: bool) -> str:
    """Lower-case, accent-free, punctuation as spaces, other non-letters dropped, collapsed."""
    lowered = f"replace(replace(replace(lower({value}), 'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss')"
    # Dropping first, then turning each run of punctuation and spaces into one space, gives
    # what dropping after would, with no third pass to collapse the spaces left around a drop.
    kept = r"\pL0-9\pP\pZ\s" if keep_digits else r"\pL\pP\pZ\s"
    dropped = _sub(f"strip_accents({lowered})", f"[^{kept}]", "")
    return f"NULLIF(trim({_sub(dropped, _PUNCTUATION, ' ')}), '')"


def _expand(folded: str, abbreviations: dict[str, str]) -> str:
    """Replace abbreviated tokens by their full word."""
    cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in abbreviations.items())
    tokens = f"string_split({folded}, ' ')"
    expanded = f"list_transform({tokens}, lambda bw_w: CASE bw_w {cases} ELSE bw_w END)"
    return f"array_to_string({expanded}, ' ')"


def _name(p: str) -> str:
    return _when(f"{_has(p, _LETTER)} AND NOT {_has(p, _DIGIT)}", _title(p))


def _name_match(value: str) -> str:
    return _fold(value, keep_digits=False)


def _place(p: str) -> str:
    return _when(_has(p, _LETTER), _title(p))


def _place_match(value: str) -> str:
    # Digits stay: "Paris 15e", "Lyon 3e Arrondissement".
    return _expand(_fold(value, keep_digits=True), _SAINT_ABBREVIATIONS)


def _address(p: str) -> str:
    return _when(_has(p, _LETTER), _collapse(p))


def _address_match(value: str) -> str:
    # "12bis" -> "12 bis", so that both spellings fold the same.
    split = _sub(_fold(value, keep_digits=True), r"([0-9])(bis|ter)\b", r"\1 \2")
    return _expand(split, ADDRESS_ABBREVIATIONS)


# --- other classes -----------------------------------------------------------------------------

_POSTAL_CODE = r"(?:0[1-9]|[1-8][0-9]|9[0-5])[0-9]{3}|97[1-8][0-9]{2}|98[0-9]{3}"


def _postal_code(p: str) -> str:
    def check(digits: str) -> str:
        # Spreadsheets read 01000 as the number 1000.
        padded = f"CASE WHEN {_full(digits, '[0-9]{4}')} THEN '0' || {digits} ELSE {digits} END"
        return _let(padded, "bw_pc", lambda pc: _when(_full(pc, _POSTAL_CODE), pc))

    return _let(_sub(p, _WS, ""), "bw_digits", check)


def _gender(p: str) -> str:
    def decode(code: str) -> str:
        whens = " ".join(
            f"WHEN {code} IN ({', '.join(_lit(c) for c in codes)}) THEN {_lit(gender)}"
            for gender, codes in GENDER_CODES.items()
        )
        return f"CASE {whens} END"

    return _let(_sub(f"strip_accents(lower({p}))", r"[.\s]", ""), "bw_g", decode)


def _iban_formats() -> tuple[str, tuple[str, ...]]:
    """(regex of every IBAN format stdnum knows, countries with an extra stdnum check)."""
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
_IBAN_SEPARATORS = " .-"  # stdnum.iban.compact's


def _mod97(expr: str) -> str:
    """ISO 7064 mod 97-10 of an alphanumeric string (letters count as 10..35)."""
    chars = f"string_split({expr}, '')"
    digit = "ord(bw_ch) - CASE WHEN bw_ch <= '9' THEN 48 ELSE 55 END"
    values = f"list_transform({chars}, lambda bw_ch: {digit})"
    step = "(bw_acc * CASE WHEN bw_x >= 10 THEN 100 ELSE 10 END + bw_x) % 97"
    return f"list_reduce({values}, lambda bw_acc, bw_x: {step}, 0)"


def _iban(p: str) -> str:
    def check(c: str) -> str:
        checksum = _mod97(f"substr({c}, 5) || left({c}, 4)")
        return _when(f"{_full(c, _IBAN_RE)} AND {checksum} = 1", c)

    delegated = ", ".join(_lit(cc) for cc in _IBAN_DELEGATED)
    # stdnum maps Unicode look-alikes to ASCII and has extra checks for a few countries.
    to_library = f"{_has(p, _NON_ASCII)} OR upper(left({p}, 2)) IN ({delegated})"
    compact = _let(f"upper(translate({p}, {_lit(_IBAN_SEPARATORS)}, ''))", "bw_iban", check)
    return f"CASE WHEN {to_library} THEN {UDF_IBAN}({p}) ELSE {compact} END"


def _iban_udf(value: str) -> str | None:
    return std_iban.compact(value) if std_iban.is_valid(value) else None


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # no leading zeros, as ipaddress
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"


def _ip(p: str) -> str:
    # Without a colon only IPv4 can be valid, and the regex decides it exactly.
    return f"CASE WHEN contains({p}, ':') THEN {UDF_IP}({p}) WHEN {_full(p, _IPV4)} THEN {p} END"


def _ip_udf(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


_HEX_DIGEST = r"(?i)[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}"  # MD5, SHA-1/256/512
_CRYPT_HASH = r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}|\$argon2(?:id|i|d)\$\S+"  # bcrypt, argon2


def _password_hash(p: str) -> str:
    # Hex digests are lower-cased so that one hash compares equal across leaks.
    hex_digest, crypt = _full(p, _HEX_DIGEST), _full(p, _CRYPT_HASH)
    return f"CASE WHEN {hex_digest} THEN lower({p}) WHEN {crypt} THEN {p} END"


def _agency_id(p: str) -> str:
    return _let(f"upper({p})", "bw_id", lambda upper: _when(_full(upper, "[A-Z0-9]+"), upper))


# --- assembly ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortcut:
    """The usual written form of a class, settled by a cheaper expression than the rule's.

    Most raw values of a real dump look alike ("06 47 41 52 92", "jean.dupont@orange.fr"); a
    value of that shape skips the trimming, the unwrapping and the branches for unusual forms.
    ``value`` must give exactly what the full rule gives (tests/ingest/test_normalize.py
    generates values of the shape and compares both).
    """

    when: Callable[[str], str]  # raw -> whether it has the usual shape (no edge whitespace)
    value: Callable[[str], str]  # raw of that shape -> value, NULL when invalid


def _shape(pattern: str) -> Callable[[str], str]:
    return lambda raw: _full(raw, pattern)


@dataclass(frozen=True)
class _Rule:
    value: Callable[[str], str]  # trimmed non-blank raw -> value, NULL when invalid
    match: Callable[[str], str] | None = None  # value -> match form
    shortcut: Shortcut | None = None


def _identity(p: str) -> str:
    return p


_RULES: dict[DataClass, _Rule] = {
    DataClass.NIR: _Rule(_nir, shortcut=Shortcut(_shape("[0-9]{15}"), _nir_key_checked)),
    DataClass.PHONE: _Rule(_phone, shortcut=Shortcut(_shape(_FR_NATIONAL_WRITTEN), _fr_national)),
    DataClass.EMAIL: _Rule(_email, _email_match, Shortcut(_email_everyday, _email_everyday_value)),
    DataClass.DATE_OF_BIRTH: _Rule(_date),
    DataClass.BIRTH_YEAR: _Rule(_birth_year),
    DataClass.FIRST_NAME: _Rule(_name, _name_match),
    DataClass.LAST_NAME: _Rule(_name, _name_match),
    DataClass.FULL_NAME: _Rule(_name, _name_match),
    DataClass.BIRTH_NAME: _Rule(_name, _name_match),
    DataClass.CITY: _Rule(_place, _place_match),
    DataClass.PLACE_OF_BIRTH: _Rule(_place, _place_match),
    DataClass.POSTAL_ADDRESS: _Rule(_address, _address_match),
    DataClass.POSTAL_CODE: _Rule(_postal_code),
    DataClass.GENDER: _Rule(_gender),
    DataClass.IBAN: _Rule(_iban),
    DataClass.AGENCY_ID: _Rule(_agency_id, shortcut=Shortcut(_shape("[A-Z0-9]+"), _identity)),
    DataClass.RECORD_ID: _Rule(_identity, shortcut=Shortcut(_shape("[!-~]+"), _identity)),
    DataClass.IP_ADDRESS: _Rule(_ip),
    DataClass.PASSWORD: _Rule(_identity),
    DataClass.PASSWORD_HASH: _Rule(_password_hash),
    DataClass.EMPLOYER: _Rule(_collapse),
    DataClass.FREE_TEXT: _Rule(_identity),
}


def slot_exprs(slot: Slot, raw: str) -> dict[str, str]:
    """{column: DuckDB SQL expression} for every column of ``slot_columns(slot)``.

    ``raw`` is a SQL expression of the raw VARCHAR value (e.g. ``'"c7"'``). The value
    expression recurs in the validity and match expressions; put them in one SELECT and DuckDB
    computes it once per row.
    """
    rule = _RULES[slot.data_class]
    value = value_expr(slot.data_class, raw)
    present = f"NULLIF({_has(f'CAST({raw} AS VARCHAR)', _NOT_WS)}, FALSE)"
    exprs = {
        slot.name: value,
        # A comparison, not CASE: DuckDB only shares sub-expressions outside CASE and AND/OR.
        f"{slot.name}_valid": f"(({value}) IS NOT NULL) = {present}",
    }
    if slot.match_form:
        assert rule.match is not None, f"{slot.data_class} has no match form"
        exprs[f"{slot.name}_match"] = rule.match(value)
    assert list(exprs) == [name for name, _ in slot_columns(slot)]
    return exprs


def value_expr(data_class: DataClass, raw: str, shortcut: bool = True) -> str:
    """The value of ``raw`` (a SQL expression) in ``data_class``; ``shortcut=False`` gives the
    full rule alone (what the tests compare the shortcut with)."""
    rule = _RULES[data_class]
    full = _let(_present(raw), "bw_p", rule.value)
    if rule.shortcut is None or not shortcut:
        return full
    text = f"CAST({raw} AS VARCHAR)"
    return f"CASE WHEN {rule.shortcut.when(text)} THEN {rule.shortcut.value(text)} ELSE {full} END"


def shortcut_of(data_class: DataClass) -> Shortcut | None:
    return _RULES[data_class].shortcut


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
            _vectorized(function),
            [duckdb.sqltypes.VARCHAR],
            duckdb.sqltypes.VARCHAR,
            # Arrow UDFs take a whole vector per call; native ones cost ~100 µs per row.
            type=PythonUDFType.ARROW,
            # SPECIAL: the UDFs return NULL for invalid values, which DEFAULT forbids.
            null_handling=FunctionNullHandling.SPECIAL,
        )


def _vectorized(function: Callable[[str], str | None]) -> Callable[[pa.Array], pa.Array]:
    def guarded(value: str | None) -> str | None:
        if value is None:
            return None
        # A library bug on one garbage value must neither abort a 43 M-row load nor void the
        # whole vector: that value reads as invalid.
        try:
            return function(value)
        except Exception:  # noqa: BLE001 - see above
            return None

    def udf(values: pa.Array) -> pa.Array:
        return pa.array([guarded(v) for v in values.to_pylist()], type=pa.string())

    return udf
