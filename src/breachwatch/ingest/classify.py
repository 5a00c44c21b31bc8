"""Map each source column to a data class, from its header and from a sample of its values.

The header speaks first (French and English names, case, accent and punctuation blind); the
values confirm or contradict it, using the very rules that normalise them (``normalize.py``), so
that "93% of the values are valid NIRs" means what ingest will later find. When header and
values disagree, values that are strongly valid (more than 80%) win. A column nobody can
classify is ``unknown``, never dropped; ``--map`` overrides always win.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import duckdb
import pyarrow as pa
from faker.providers.person.fr_FR import Provider as FrenchNames

from breachwatch.errors import UsageError
from breachwatch.ingest.normalize import register_udfs, slot_exprs
from breachwatch.types import SLOTS_BY_CLASS, DataClass

MAX_SAMPLE = 1000
STRONG_SHARE = 0.8  # above this share of valid values, values overrule the header
UNKNOWN_CONFIDENCE = 0.1
EXACT_HEADER, PARTIAL_HEADER = 0.9, 0.7


@dataclass(frozen=True)
class ColumnGuess:
    column: str
    data_class: DataClass
    confidence: float
    reason: str  # e.g. "header 'N° SS'" or "93% of 500 sampled values are valid NIRs"


# --- headers -----------------------------------------------------------------------------------

# First match wins, so specific phrases come before the generic ones they contain
# ("adresse mail" before "adresse", "nom naissance" before "nom", "id pe" before "id").
# Phrases are token sequences of a normalised header; French stop words are dropped first.
_HEADER_RULES: tuple[tuple[DataClass, tuple[str, ...]], ...] = (
    (DataClass.EMAIL, ("email", "e mail", "mail", "courriel", "mel")),
    (DataClass.IP_ADDRESS, ("ip", "ipv4", "ipv6", "ip address", "adresse ip")),
    (
        DataClass.BIRTH_NAME,
        ("nom naissance", "nom jeune fille", "birthname", "birth name", "maiden name"),
    ),
    (
        DataClass.PLACE_OF_BIRTH,
        ("lieu naissance", "ville naissance", "commune naissance", "birthplace", "place birth"),
    ),
    (
        DataClass.BIRTH_YEAR,
        ("annee naissance", "birth year", "year birth", "birthyear", "yob", "year of birth"),
    ),
    (
        DataClass.DATE_OF_BIRTH,
        ("date naissance", "naissance", "ddn", "dob", "birthdate", "birth date", "date birth"),
    ),
    (DataClass.PASSWORD_HASH, ("hash", "password hash", "hashed password", "empreinte")),
    (DataClass.PASSWORD, ("mot passe", "password", "passwd", "mdp", "pwd")),
    (
        DataClass.NIR,
        ("nir", "ssn", "insee", "securite sociale", "numero ss", "nss", "social security"),
    ),
    (
        DataClass.RECORD_ID,
        ("id client", "identifiant client", "client id", "customer id", "id personne", "uuid"),
    ),
    (
        DataClass.AGENCY_ID,
        ("identifiant", "agency id", "id pe", "id ft", "numero allocataire", "allocataire"),
    ),
    (DataClass.IBAN, ("iban",)),
    (
        DataClass.PHONE,
        ("tel", "telephone", "portable", "mobile", "phone", "gsm", "cellulaire", "fixe"),
    ),
    (DataClass.POSTAL_CODE, ("cp", "code postal", "zip", "zipcode", "postcode", "postal code")),
    (DataClass.CITY, ("ville", "city", "town", "commune", "localite")),
    (DataClass.POSTAL_ADDRESS, ("adresse", "address", "street", "rue", "voie", "addr")),
    (DataClass.GENDER, ("sexe", "sex", "gender", "genre", "civilite")),
    (DataClass.EMPLOYER, ("employeur", "employer", "entreprise", "societe", "company")),
    (
        DataClass.FULL_NAME,
        (
            "full name",
            "fullname",
            "nom complet",
            "nom prenom",
            "prenom nom",
            "display name",
            "nom affiche",
        ),
    ),
    (DataClass.FIRST_NAME, ("prenom", "firstname", "first name", "given name", "forename")),
    (
        DataClass.LAST_NAME,
        ("nom", "lastname", "last name", "surname", "nom famille", "family name", "nom usage"),
    ),
    (DataClass.RECORD_ID, ("id", "record id", "user id", "pk")),
    (
        DataClass.FREE_TEXT,
        ("commentaire", "commentaires", "comment", "comments", "notes", "note", "remarque"),
    ),
)
# Headers that name something about the record, not about the person: values alone (dates that
# look like birth dates, counts that look like postal codes) must not turn them into PII classes.
_ATTRIBUTE_PHRASES = (
    "date inscription",
    "inscription",
    "date creation",
    "created",
    "created at",
    "updated",
    "updated at",
    "modified",
    "last login",
    "derniere connexion",
    "date",
    "timestamp",
    "points",
    "loyalty points",
    "solde",
    "balance",
    "montant",
    "amount",
    "prix",
    "price",
    "offre",
    "offer",
    "plan",
    "categorie",
    "category",
    "statut",
    "status",
    "type",
    "age",
)
_STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "d", "l", "of", "the"})


def _fold(text: str) -> str:
    """Lower case, accents stripped ("Prénom" -> "prenom")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _header_tokens(header: str) -> list[str]:
    """Header words: "N° SS" -> numero ss, "dateNaissance" -> date naissance, "tel2" -> tel 2."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])", " ", header)
    spaced = re.sub(r"\b[nN]\s*[°º]", " numero ", spaced)
    spaced = re.sub(r"\bnum\b|\bno\b", " numero ", _fold(spaced))
    return [t for t in re.findall(r"[a-z0-9]+", spaced) if t not in _STOP_WORDS]


def classify_by_name(header: str) -> ColumnGuess | None:
    """The data class a header names, or None for opaque headers (``c7``, ``col_3``).

    A header naming a non-personal attribute (``date_inscription``, ``loyalty_points``) gives
    ``unknown`` with full header confidence."""
    tokens = _header_tokens(header)
    joined, spaced = "".join(tokens), f" {' '.join(tokens)} "
    if any(joined == phrase.replace(" ", "") for phrase in _ATTRIBUTE_PHRASES):
        return ColumnGuess(
            header, DataClass.UNKNOWN, EXACT_HEADER, f"header {header!r} names a record attribute"
        )
    # A header that *is* a phrase beats one that merely contains another ("password_hash").
    for confidence, matches in (
        (EXACT_HEADER, lambda phrase: joined == phrase.replace(" ", "")),
        (PARTIAL_HEADER, lambda phrase: f" {phrase} " in spaced),
    ):
        for data_class, phrases in _HEADER_RULES:
            if any(matches(phrase) for phrase in phrases):
                return ColumnGuess(header, data_class, confidence, f"header {header!r}")
    return None


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Detector:
    noun: str  # completes "93% of 500 sampled values are ..."
    min_share: float  # below this the class is not suggested
    weight: float  # what a 100% share is worth: weaker signals weigh less
    # A format check strong enough to contradict or overrule a header: few valid NIRs under
    # "nir" contradict it, few first names from our short list under "prenom" do not, and
    # distinct codes under "commune" are INSEE codes, not a record id overruling the header.
    strong: bool


_DETECTORS: dict[DataClass, _Detector] = {
    # Dict order breaks ties: the most specific formats first.
    DataClass.NIR: _Detector("valid NIRs", 0.5, 0.99, True),
    DataClass.IBAN: _Detector("valid IBANs", 0.5, 0.99, True),
    DataClass.EMAIL: _Detector("valid e-mail addresses", 0.5, 0.99, True),
    DataClass.IP_ADDRESS: _Detector("valid IP addresses", 0.5, 0.95, True),
    DataClass.PASSWORD_HASH: _Detector("password hashes", 0.5, 0.95, True),
    DataClass.PHONE: _Detector("valid phone numbers", 0.5, 0.95, True),
    DataClass.DATE_OF_BIRTH: _Detector("valid dates of birth", 0.5, 0.9, True),
    DataClass.POSTAL_CODE: _Detector("French postal codes", 0.5, 0.9, True),
    DataClass.BIRTH_YEAR: _Detector("plausible birth years", 0.5, 0.8, True),
    DataClass.GENDER: _Detector("gender codes", 0.8, 0.85, True),
    DataClass.POSTAL_ADDRESS: _Detector("street addresses", 0.5, 0.8, False),
    DataClass.FIRST_NAME: _Detector("known first names", 0.3, 0.8, False),
    DataClass.LAST_NAME: _Detector("known last names", 0.3, 0.75, False),
    DataClass.RECORD_ID: _Detector("distinct identifiers", 1.0, 0.6, False),
    DataClass.FREE_TEXT: _Detector("free-text sentences", 0.5, 0.5, False),
}
# Validity from normalize.py, narrowed where a valid value is also a plausible something-else:
# a bare 9-digit number is a valid phone to phonenumbers but more likely an identifier.
_SQL_SHARES: dict[DataClass, str] = {
    DataClass.NIR: "{valid}",
    DataClass.IBAN: "{valid}",
    DataClass.EMAIL: "{valid}",
    DataClass.IP_ADDRESS: "{valid}",
    DataClass.PASSWORD_HASH: "{valid}",
    DataClass.PHONE: "{valid} AND regexp_matches(raw, '^\\s*[+0(]')",
    DataClass.DATE_OF_BIRTH: "{valid}",
    DataClass.BIRTH_YEAR: "{valid}",
    DataClass.POSTAL_CODE: "{valid} AND regexp_full_match(trim(raw), '[0-9]{{4,5}}')",
    DataClass.GENDER: "{valid}",
}
# A gender column repeats a handful of codes, and a sample of it holds both genders (a
# column of 1s is a flag).
_GENDER_MAX_DISTINCT = 12
_STREET_WORDS = (
    "rue|avenue|boulevard|place|impasse|allee|chemin|route|quai|cours|square|faubourg|"
    "lieu dit|residence|lotissement|voie|passage|hameau|sentier|cite|promenade|montee"
)
_STREET_ABBREVIATIONS = "r|av|ave|bd|bld|pl|imp|all|ch|rte|fbg|res"
# "12 bis, rue ...", "3 av. Foch", or a bare "rue ..." (abbreviations only after a number).
_STREET = re.compile(
    rf"^\d+\s*(?:bis|ter|[a-d])?\b[\s,]*(?:{_STREET_WORDS}|{_STREET_ABBREVIATIONS})\b"
    rf"|^(?:{_STREET_WORDS})\b"
)
# Numbers, UUIDs, codes: compact tokens with a digit.
_IDENTIFIER = re.compile(r"(?=[\w-]{1,40}$)[\w-]*[0-9][\w-]*")
_FREE_TEXT_WORDS, _FREE_TEXT_LENGTH = 4, 25


@dataclass(frozen=True)
class _Scores:
    sampled: int
    shares: dict[DataClass, float]

    def supports(self, data_class: DataClass) -> bool:
        detector = _DETECTORS.get(data_class)
        share = self.shares.get(data_class, 0.0)
        return detector is not None and share > 0 and share >= detector.min_share

    def guess(self, column: str, data_class: DataClass) -> ColumnGuess:
        share = self.shares[data_class]
        confidence = round(share * _DETECTORS[data_class].weight, 3)
        return ColumnGuess(column, data_class, confidence, self.reason(data_class))

    def reason(self, data_class: DataClass) -> str:
        share = self.shares.get(data_class, 0.0)
        return f"{share:.0%} of {self.sampled} sampled values are {_DETECTORS[data_class].noun}"

    def best(self, column: str) -> ColumnGuess | None:
        candidates = [c for c in _DETECTORS if self.supports(c)]
        if not candidates:
            return None
        return self.guess(column, max(candidates, key=lambda c: self.shares[c]))


@cache
def _known_names() -> tuple[frozenset[str], frozenset[str]]:
    first = frozenset(_fold(n) for n in FrenchNames.first_names)
    last = frozenset(_fold(n) for n in FrenchNames.last_names)
    return first, last


def _name_share(values: list[str], names: frozenset[str]) -> float:
    """Share of values whose every word ("Jean-Pierre": jean, pierre) is a known name."""
    hits = 0
    for value in values:
        words = re.findall(r"[^\W\d_]+", _fold(value))
        hits += bool(words) and all(w in names for w in words)
    return hits / len(values)


def _python_shares(values: list[str]) -> dict[DataClass, float]:
    first, last = _known_names()
    folded = [_fold(v.strip()) for v in values]
    distinct = len(set(folded)) == len(folded)
    sentences = [v for v in values if len(v.split()) >= _FREE_TEXT_WORDS]
    long_enough = sum(len(v) for v in values) / len(values) >= _FREE_TEXT_LENGTH
    return {
        DataClass.FIRST_NAME: _name_share(values, first),
        DataClass.LAST_NAME: _name_share(values, last),
        DataClass.POSTAL_ADDRESS: sum(bool(_STREET.match(v)) for v in folded) / len(values),
        # A sample of distinct, compact tokens: what a primary key looks like.
        DataClass.RECORD_ID: float(
            distinct and len(values) > 1 and all(_IDENTIFIER.fullmatch(v) for v in folded)
        ),
        DataClass.FREE_TEXT: len(sentences) / len(values) if long_enough else 0.0,
    }


def _sql_shares(
    con: duckdb.DuckDBPyConnection, samples: list[list[str]]
) -> list[dict[DataClass, float]]:
    """Share of valid values per SQL-checked class, for every sample, in one query."""
    averages = []
    for data_class, template in _SQL_SHARES.items():
        valid = slot_exprs(SLOTS_BY_CLASS[data_class][0], "raw")[f"{data_class}_valid"]
        averages.append(f"avg(coalesce(({template.format(valid=valid)}), FALSE)::INT)")
    gender = slot_exprs(SLOTS_BY_CLASS[DataClass.GENDER][0], "raw")["gender"]
    gender_codes = (
        f"count(DISTINCT lower(trim(raw))) <= {_GENDER_MAX_DISTINCT} "
        f"AND count(DISTINCT {gender}) = 2"
    )
    # An Arrow table, not Python list parameters: DuckDB converts list parameters value by value
    # (and retries a failing pandas import for each), ~9 s for 17 columns of 1,000 values.
    values = pa.table(
        {
            "i": pa.array([i for i, sample in enumerate(samples) for _ in sample], pa.int32()),
            "raw": pa.array([v for sample in samples for v in sample], pa.string()),
        }
    )
    con.register("bw_samples", values)
    try:
        rows = con.execute(
            f"SELECT i, {gender_codes}, {', '.join(averages)} FROM bw_samples GROUP BY i"
        ).fetchall()
    finally:
        con.unregister("bw_samples")
    shares: list[dict[DataClass, float]] = [{} for _ in samples]
    for i, gender_like, *values in rows:
        shares[i] = dict(zip(_SQL_SHARES, values, strict=True))
        if not gender_like:
            shares[i][DataClass.GENDER] = 0.0
    return shares


def _non_blank(values: Iterable[str | None]) -> list[str]:
    return [v for v in values if v is not None and v.strip()][:MAX_SAMPLE]


def _score(con: duckdb.DuckDBPyConnection, samples: list[list[str]]) -> list[_Scores]:
    sql = _sql_shares(con, samples) if any(samples) else [{} for _ in samples]
    return [
        _Scores(len(sample), {**shares, **_python_shares(sample)} if sample else {})
        for sample, shares in zip(samples, sql, strict=True)
    ]


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    register_udfs(con)
    return con


def classify_by_values(column: str, values: list[str | None]) -> ColumnGuess | None:
    """The data class a sample (≤ 1000 values) of a column looks like, or None."""
    with _connection() as con:
        return _score(con, [_non_blank(values)])[0].best(column)


# --- both --------------------------------------------------------------------------------------


# With no header to go by, classes whose values are easy to mistake (counts look like postal
# codes, any recent date like a birth date, short words like first names) need more evidence.
_VALUE_ONLY_MIN_SHARE = {
    DataClass.POSTAL_CODE: 0.95,
    DataClass.DATE_OF_BIRTH: 0.95,
    # A column of years is a birth year only when its header says so (years of a car, of a
    # contract, of an event look the same).
    DataClass.BIRTH_YEAR: 1.01,
    DataClass.GENDER: 0.95,
    DataClass.FIRST_NAME: 0.6,
    DataClass.LAST_NAME: 0.6,
}
# Formats unmistakable enough to overrule a header that names a record attribute.
_UNMISTAKABLE = frozenset(
    {DataClass.NIR, DataClass.IBAN, DataClass.EMAIL, DataClass.IP_ADDRESS, DataClass.PASSWORD_HASH}
)


def _value_only(column: str, by_values: ColumnGuess | None, scores: _Scores) -> ColumnGuess:
    if by_values is not None:
        needed = _VALUE_ONLY_MIN_SHARE.get(by_values.data_class, 0.0)
        if scores.shares[by_values.data_class] >= needed:
            return by_values
        reason = f"{by_values.reason}: too few for a column without a telling header"
        return ColumnGuess(column, DataClass.UNKNOWN, UNKNOWN_CONFIDENCE, reason)
    sampled = f"{scores.sampled} sampled values" if scores.sampled else "no sampled value"
    reason = f"header {column!r} and {sampled} match no data class"
    return ColumnGuess(column, DataClass.UNKNOWN, UNKNOWN_CONFIDENCE, reason)


def _combine(column: str, by_name: ColumnGuess | None, scores: _Scores) -> ColumnGuess:
    by_values = scores.best(column)
    if by_name is None:
        return _value_only(column, by_values, scores)
    if by_name.data_class is DataClass.UNKNOWN:
        if (
            by_values is not None
            and by_values.data_class in _UNMISTAKABLE
            and scores.shares[by_values.data_class] > STRONG_SHARE
        ):
            return by_values
        return by_name
    if scores.supports(by_name.data_class):
        # The values confirm the header (even if another class scores higher: "id" full of
        # distinct 5-digit numbers is an identifier that happens to look like postal codes).
        value_confidence = scores.guess(column, by_name.data_class).confidence
        confidence = min(0.99, 1 - (1 - by_name.confidence) * (1 - value_confidence))
        reason = f"{by_name.reason}; {scores.reason(by_name.data_class)}"
        return ColumnGuess(column, by_name.data_class, round(confidence, 3), reason)
    if (
        by_values is not None
        and _DETECTORS[by_values.data_class].strong
        and scores.shares[by_values.data_class] > STRONG_SHARE
    ):
        reason = f"{by_values.reason}, overriding {by_name.reason} ({by_name.data_class})"
        return ColumnGuess(column, by_values.data_class, by_values.confidence, reason)
    detector = _DETECTORS.get(by_name.data_class)
    if scores.sampled and detector is not None and detector.strong:
        reason = f"{by_name.reason}, although {scores.reason(by_name.data_class)}"
        return ColumnGuess(column, by_name.data_class, round(by_name.confidence / 2, 3), reason)
    return by_name


def _one_record_id(guesses: list[ColumnGuess], overridden: set[str]) -> list[ColumnGuess]:
    """Keep the best record_id column; the others become unknown."""
    ids = [g for g in guesses if g.data_class is DataClass.RECORD_ID]
    if len(ids) <= 1:
        return guesses
    mapped = [g for g in ids if g.column in overridden]
    if len(mapped) > 1:
        names = ", ".join(g.column for g in mapped)
        raise UsageError(f"--map gives record_id to several columns ({names}); keep one")
    keep = mapped[0] if mapped else max(ids, key=lambda g: g.confidence)
    return [
        ColumnGuess(
            g.column,
            DataClass.UNKNOWN,
            UNKNOWN_CONFIDENCE,
            f"{g.reason}; but {keep.column!r} is the record_id",
        )
        if g in ids and g is not keep
        else g
        for g in guesses
    ]


def classify_columns(
    columns: list[str],
    samples: dict[str, list[str | None]],
    overrides: dict[str, DataClass] | None = None,
) -> list[ColumnGuess]:
    """One guess per column, in column order; ``overrides`` (``--map``) always win."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(columns))
    if unknown:
        raise UsageError(f"--map names unknown column(s): {', '.join(unknown)}")
    with _connection() as con:
        all_scores = _score(con, [_non_blank(samples.get(c, [])) for c in columns])
    guesses = [
        ColumnGuess(column, overrides[column], 1.0, "--map")
        if column in overrides
        else _combine(column, classify_by_name(column), scores)
        for column, scores in zip(columns, all_scores, strict=True)
    ]
    return _one_record_id(guesses, set(overrides))
