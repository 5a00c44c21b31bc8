"""Names, places, streets and e-mail providers, with frequencies, built from Faker's fr_FR lists.

Faker ships the lists but no frequencies; a Zipf-like weight on them makes a few names common and
most rare, as in real data (surnames keep Faker's order, which is INSEE's frequency order).
Everything here is built once, from fixed seeds: the geography does not change with the seed.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker.providers.address.fr_FR import Provider as AddressProvider
from faker.providers.person.fr_FR import Provider as PersonProvider

# The vocabulary is fixed data: its own seed, independent of the user's.
_VOCAB_SEED = 20240301

# Rough populations in thousands (INSEE ~2021); only the relative sizes matter.
_DEPARTMENT_POPULATION: dict[str, int] = {
    "01": 650, "02": 530, "03": 335, "04": 165, "05": 140, "06": 1090, "07": 330, "08": 270,
    "09": 155, "10": 310, "11": 375, "12": 280, "13": 2040, "14": 695, "15": 145, "16": 350,
    "17": 650, "18": 300, "19": 240, "2A": 160, "2B": 180, "21": 535, "22": 600, "23": 115,
    "24": 410, "25": 545, "26": 520, "27": 600, "28": 430, "29": 915, "30": 750, "31": 1400,
    "32": 190, "33": 1625, "34": 1175, "35": 1080, "36": 220, "37": 610, "38": 1270, "39": 260,
    "40": 410, "41": 330, "42": 765, "43": 227, "44": 1430, "45": 680, "46": 174, "47": 330,
    "48": 76, "49": 820, "50": 495, "51": 565, "52": 172, "53": 307, "54": 733, "55": 184,
    "56": 760, "57": 1045, "58": 204, "59": 2610, "60": 830, "61": 280, "62": 1465, "63": 660,
    "64": 680, "65": 230, "66": 480, "67": 1140, "68": 765, "69": 1875, "70": 235, "71": 550,
    "72": 565, "73": 435, "74": 830, "75": 2165, "76": 1255, "77": 1420, "78": 1450, "79": 375,
    "80": 570, "81": 390, "82": 260, "83": 1075, "84": 560, "85": 685, "86": 440, "87": 372,
    "88": 365, "89": 335, "90": 140, "91": 1300, "92": 1625, "93": 1650, "94": 1410, "95": 1250,
    "971": 385, "972": 360, "973": 285, "974": 865, "976": 280,
}  # fmt: skip

# Regional landline prefix (01 Île-de-France … 05 south-west); overseas get 09 box numbers.
_LANDLINE_REGION: dict[str, tuple[str, ...]] = {
    "1": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "2": ("14", "27", "50", "61", "76", "22", "29", "35", "56", "44", "49", "53", "72", "85",
          "18", "28", "36", "37", "41", "45"),
    "3": ("02", "59", "60", "62", "80", "08", "10", "51", "52", "54", "55", "57", "67", "68",
          "88", "21", "25", "39", "58", "70", "71", "89", "90"),
    "5": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87", "09", "12",
          "31", "32", "46", "65", "81", "82"),
}  # fmt: skip

# INSEE country codes (the 3 digits after "99" in a NIR) of the most frequent birth countries of
# people born abroad, with a rough weight.
_BIRTH_COUNTRIES: tuple[tuple[str, str, float], ...] = (
    ("352", "Algérie", 20), ("350", "Maroc", 18), ("139", "Portugal", 12), ("351", "Tunisie", 8),
    ("127", "Italie", 5), ("134", "Espagne", 5), ("208", "Turquie", 5), ("341", "Sénégal", 3),
    ("335", "Mali", 3), ("326", "Côte d'Ivoire", 3), ("322", "Cameroun", 3),
    ("312", "Rép. Dém. du Congo", 2), ("324", "Congo", 2), ("114", "Roumanie", 3),
    ("109", "Allemagne", 3), ("131", "Belgique", 2), ("132", "Royaume-Uni", 1),
    ("122", "Pologne", 1), ("216", "Chine", 2), ("243", "Viêt Nam", 1), ("223", "Inde", 1),
    ("140", "Suisse", 1), ("401", "Canada", 0.5), ("404", "États-Unis", 0.5),
)  # fmt: skip

# Surnames with an apostrophe are absent from Faker's list but common enough in France, and they
# are what breaks naive SQL and CSV handling.
_APOSTROPHE_SURNAMES = (
    "N'Diaye", "D'Almeida", "N'Guessan", "D'Angelo", "L'Huillier", "D'Amico", "N'Dour",
    "L'Hermitte", "M'Bemba", "D'Oliveira",
)  # fmt: skip

# Faker locales whose surnames and first names are common in France besides the French ones:
# French-speaking neighbours, and the countries most people born abroad come from.
_NEIGHBOUR_LOCALES = (
    "fr_BE", "fr_CH", "fr_CA", "fr_DZ", "it_IT", "es_ES", "pt_PT", "pt_BR", "de_DE", "nl_NL",
    "ro_RO", "tr_TR", "en_GB", "vi_VN",
)  # fmt: skip
_BLEND_LOCALES = ("fr_FR", "fr_BE", "fr_CH", "fr_CA", "it_IT", "es_ES", "pt_PT")
_SURNAMES = 500_000
_NAME = re.compile(r"[A-Z][A-Za-z]*(?:[ '-][A-Za-z]+)*")
# A one-word name cut after its first vowel group and the next letter: Ber|nard, Dup|ont.
_CUT = re.compile(
    r"([A-Z][^aeiouyéèêëàâîïôöûü ' -]*[aeiouyéèêëàâîïôöûü]+[^aeiouyéèêëàâîïôöûü ' -])([a-zà-ÿ]{3,})"
)

# The streets every French town has, ranked first so they are the most frequent.
_COMMON_STREETS = (
    "de la République", "Victor Hugo", "de la Gare", "de l'Église", "Jean Jaurès", "du Moulin",
    "des Écoles", "Pasteur", "de la Mairie", "du Général de Gaulle", "des Lilas", "du Stade",
    "de la Paix", "des Tilleuls", "Gambetta", "de la Fontaine", "du Château", "des Acacias",
    "Jean Moulin", "des Prés",
)  # fmt: skip
_STREET_TYPES: dict[str, float] = {
    "rue": 0.50, "avenue": 0.12, "chemin": 0.10, "impasse": 0.08, "boulevard": 0.06,
    "allée": 0.06, "place": 0.04, "route": 0.04,
}  # fmt: skip

# Reserved domains only (RFC 2606 / RFC 6761): never a real mailbox.
_EMAIL_DOMAINS: tuple[tuple[str, float, float], ...] = (
    # (domain, weight today, weight of the provider one used before)
    ("gmail.test", 35, 10), ("orange.test", 14, 12), ("hotmail.test", 10, 18),
    ("yahoo.test", 6, 12), ("free.test", 8, 10), ("sfr.test", 5, 6), ("laposte.test", 5, 5),
    ("outlook.test", 5, 2), ("wanadoo.test", 2, 16), ("icloud.test", 3, 1),
    ("example.org", 3, 3), ("example.com", 2, 3), ("example.net", 2, 2),
)  # fmt: skip


def zipf_weights(n: int, exponent: float = 1.0, offset: float = 10.0) -> np.ndarray:
    """Weight of rank r ∝ 1/(r+offset)^exponent: the offset flattens the head so the most common
    value is a few percent, not a third, of a list of a few hundred."""
    weights = 1.0 / (np.arange(1, n + 1) + offset) ** exponent
    return weights / weights.sum()


@dataclass(frozen=True)
class Choices:
    """A list of strings with a probability each, drawn by inverse CDF."""

    values: pa.Array
    cdf: np.ndarray

    @staticmethod
    def of(values: list[str], weights: np.ndarray) -> Choices:
        cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
        cdf /= cdf[-1]
        cdf[-1] = 1.0  # u < 1 always finds a value despite rounding
        return Choices(pa.array(values, pa.string()), cdf)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.searchsorted(self.cdf, rng.random(n), side="right").astype(np.int32)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Places:
    """Communes (grouped by department) followed by birth countries, as parallel arrays."""

    name: pa.Array
    insee: pa.Array  # 5 characters: department + commune, 2A/2B for Corsica, 99 + country
    postcode: pa.Array  # empty for countries
    department: np.ndarray  # index into ``departments``; -1 for countries
    departments: tuple[str, ...]
    landline_prefix: np.ndarray  # per department: 1–5, or 9 for overseas box lines
    residence_cdf: np.ndarray  # over communes, by department population then Zipf in department
    in_department_key: np.ndarray  # department index + CDF within it: increasing over communes
    country_cdf: np.ndarray  # over the countries, which follow the communes
    communes: int

    def draw_residence(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.searchsorted(self.residence_cdf, rng.random(n), side="right").astype(np.int32)

    def draw_in_department(self, rng: np.random.Generator, department: np.ndarray) -> np.ndarray:
        # Communes are grouped by department and in_department_key = department + local CDF, so
        # one searchsorted draws a commune of the given department for every row at once.
        u = department + rng.random(len(department))
        return np.searchsorted(self.in_department_key, u, side="right").astype(np.int32)

    def draw_country(self, rng: np.random.Generator, n: int) -> np.ndarray:
        local = np.searchsorted(self.country_cdf, rng.random(n), side="right")
        return (self.communes + local).astype(np.int32)


@dataclass(frozen=True)
class Lexicon:
    first_male: Choices
    first_female: Choices
    last: Choices
    streets: Choices
    street_types: tuple[str, ...]
    domains: pa.Array
    domain_cdf: np.ndarray  # the provider used today
    old_domain_cdf: np.ndarray  # the provider used before (more wanadoo and hotmail)
    places: Places


def ascii_fold(text: str) -> str:
    """Hélène → Helene: what a legacy system or an e-mail local part keeps of a name."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def email_token(name: str) -> str:
    """How a name appears in an e-mail address: Da Silva → dasilva, N'Diaye → ndiaye."""
    return "".join(c for c in ascii_fold(name).lower() if c.isalnum() or c == "-")


def email_tokens(names: pa.Array) -> pa.Array:
    """``email_token`` of every name at once."""
    folded = pc.replace_substring_regex(pc.utf8_normalize(names, "NFKD"), r"\p{Mn}", "")
    return pc.replace_substring_regex(pc.utf8_lower(folded), r"[^\p{L}\p{N}-]", "")


@cache
def lexicon() -> Lexicon:
    rng = np.random.default_rng(_VOCAB_SEED)
    return Lexicon(
        first_male=_first_names(rng, PersonProvider.first_names_male, "Jean-", "first_names_male"),
        first_female=_first_names(
            rng, PersonProvider.first_names_female, "Marie-", "first_names_female"
        ),
        last=_last_names(),
        streets=_streets(rng),
        street_types=tuple(_STREET_TYPES),
        domains=pa.array([d for d, _, _ in _EMAIL_DOMAINS]),
        domain_cdf=_cdf([w for _, w, _ in _EMAIL_DOMAINS]),
        old_domain_cdf=_cdf([w for _, _, w in _EMAIL_DOMAINS]),
        places=_places(rng),
    )


def _cdf(weights: list[float] | np.ndarray) -> np.ndarray:
    return Choices.of([""] * len(weights), np.asarray(weights)).cdf


def _unique(names: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(names))


def _first_names(
    rng: np.random.Generator, names: tuple[str, ...], compound: str, attribute: str
) -> Choices:
    # Faker's first names are alphabetical: a fixed shuffle decides which ones are common.
    ranked = [str(n) for n in rng.permutation(_unique(names))]
    head = compound.rstrip("-")
    # Jean-Pierre, Marie-Claire: 6 % compound names built on the twelve most common ones.
    compounds = [compound + n for n in ranked[:13] if n != head][:12]
    # 6 % first names of the neighbouring countries' lists, in a fixed shuffled order.
    known = set(ranked) | set(compounds)
    foreign = [str(n) for n in rng.permutation(_foreign_names(attribute)) if n not in known]
    weights = np.concatenate(
        [
            0.88 * zipf_weights(len(ranked), 1.0, 5.0),
            0.06 * zipf_weights(len(compounds), 1.0, 2.0),
            0.06 * zipf_weights(len(foreign), 1.0, 20.0),
        ]
    )
    return Choices.of(ranked + compounds + foreign, weights)


def _last_names() -> Choices:
    """About 500,000 surnames on a long tail, as in France (some 1.3 M surnames; the most common,
    Martin, about 0.3 % of people). Ranked: Faker's fr_FR list first (INSEE's order), then the
    surnames of the countries next door and of those most people born abroad come from, then
    French-sounding blends of two of those names (Ber|nard + Du|pont → Berpont). Without the tail,
    43 M people would share 400 surnames (100,000 each): name blocks a hundred times fuller than
    real ones and namesakes everywhere."""
    rng = np.random.default_rng(_VOCAB_SEED + 1)
    head = _unique(PersonProvider.last_names)
    taken = set(head) | set(_APOSTROPHE_SURNAMES)
    middle = [n for n in _foreign_names("last_names") if n not in taken]
    middle = [str(n) for n in rng.permutation(middle)]
    blends = _blends(rng, _SURNAMES - len(head) - len(middle), taken | set(middle))
    names = head + middle + blends
    weights = np.concatenate(
        [
            0.985 * zipf_weights(len(names), 1.0, 30.0),
            0.015 * zipf_weights(len(_APOSTROPHE_SURNAMES), 1.0, 3.0),
        ]
    )
    return Choices.of(names + list(_APOSTROPHE_SURNAMES), weights)


def _foreign_names(attribute: str) -> list[str]:
    """The names of ``_NEIGHBOUR_LOCALES`` whose accents fold to ASCII letters and that cp1252
    can encode."""
    out: dict[str, None] = {}
    for locale in _NEIGHBOUR_LOCALES:
        for name in getattr(_person_provider(locale), attribute, ()):
            if _NAME.fullmatch(ascii_fold(name)) and _cp1252(name):
                out[str(name)] = None
    return list(out)


def _person_provider(locale: str) -> Any:
    """Faker's person provider class of a locale (its name lists are class attributes)."""
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def _cp1252(name: str) -> bool:
    """Whether a legacy export (the telecom leak's cp1252 CSV) can hold the name."""
    try:
        name.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _blends(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """``count`` new surnames, each the start of one French, Italian, Spanish or Portuguese
    surname (up to its first vowel group) and the end of another, drawn without repeats from
    all such pairs; none is a name of the lists."""
    starts: dict[str, None] = {}
    ends: dict[str, None] = {}
    for locale in _BLEND_LOCALES:
        for name in _person_provider(locale).last_names:
            cut = _CUT.fullmatch(name)
            if cut and _cp1252(name):
                starts[cut.group(1)] = None
                ends[cut.group(2)] = None
    start, end = pa.array(list(starts)), pa.array(list(ends))
    pairs = rng.choice(
        len(start) * len(end), size=min(2 * count, len(start) * len(end)), replace=False
    )
    joined = pc.binary_join_element_wise(
        start.take(pa.array(pairs // len(end))), end.take(pa.array(pairs % len(end))), ""
    )
    out = [n for n in dict.fromkeys(joined.to_pylist()) if n not in taken][:count]
    if len(out) < count:
        raise AssertionError(f"only {len(out):,} surname blends for {count:,}")
    return out


def _street_names(rng: np.random.Generator, count: int) -> list[str]:
    """Faker's street formats: 'rue Dupont', 'rue Jean Dupont', 'rue de Dupont' (elided)."""
    firsts = _unique(PersonProvider.first_names_male + PersonProvider.first_names_female)
    lasts = _unique(PersonProvider.last_names)
    out: dict[str, None] = {}
    while len(out) < count:
        last = lasts[rng.integers(len(lasts))]
        form = rng.integers(3)
        if form == 0:
            name = last
        elif form == 1:
            name = f"{firsts[rng.integers(len(firsts))]} {last}"
        else:
            name = f"d'{last}" if ascii_fold(last[0]).lower() in "aeiouyh" else f"de {last}"
        out[name] = None
    return list(out)


def _streets(rng: np.random.Generator) -> Choices:
    types = list(_STREET_TYPES)
    type_p = np.array(list(_STREET_TYPES.values()))
    names = list(_COMMON_STREETS) + _street_names(rng, 3000)
    streets = dict.fromkeys(f"{types[rng.choice(len(types), p=type_p)]} {n}" for n in names)
    return Choices.of(list(streets), zipf_weights(len(streets), 1.0, 20.0))


def _commune_name(rng: np.random.Generator) -> str:
    """Faker's city formats, in French typography (Saint-Hélène → Sainte-Hélène)."""
    last = str(rng.choice(PersonProvider.last_names))
    form = rng.integers(8)
    if form == 0:
        return "Saint-" + str(rng.choice(PersonProvider.first_names_male))
    if form == 1:
        return "Sainte-" + str(rng.choice(PersonProvider.first_names_female))
    if form == 2:
        return last + str(rng.choice(["ville", "bourg", "court", "nec"]))
    if form == 3:
        return last + str(rng.choice(["-les-Bains", "-sur-Mer", "-la-Forêt", "-le-Château"]))
    if form == 4:
        return f"{last}-sur-{rng.choice(PersonProvider.last_names)}"
    return last


@dataclass
class _PlaceRows:
    name: list[str]
    insee: list[str]
    postcode: list[str]
    department: list[int]
    in_department_key: list[float]
    weight: list[float]


def _places(rng: np.random.Generator) -> Places:
    codes = [code for code, _ in AddressProvider.departments]
    rows = _PlaceRows([], [], [], [], [], [])
    taken: set[str] = set()
    for d, code in enumerate(codes):
        _add_communes(rng, rows, d, code, taken)
    countries = [(c, n) for c, n, _ in _BIRTH_COUNTRIES]
    country_w = np.array([w for _, _, w in _BIRTH_COUNTRIES])
    communes = len(rows.name)
    return Places(
        name=pa.array(rows.name + [n for _, n in countries]),
        insee=pa.array(rows.insee + ["99" + c for c, _ in countries]),
        postcode=pa.array(rows.postcode + [""] * len(countries)),
        department=np.array(rows.department + [-1] * len(countries), dtype=np.int16),
        departments=tuple(codes),
        landline_prefix=np.array([_landline_prefix(c) for c in codes], dtype=np.int64),
        residence_cdf=_cdf(rows.weight),
        in_department_key=np.array(rows.in_department_key),
        country_cdf=_cdf(country_w),
        communes=communes,
    )


def _add_communes(
    rng: np.random.Generator, rows: _PlaceRows, d: int, code: str, taken: set[str]
) -> None:
    population = _DEPARTMENT_POPULATION.get(code, 400)
    postcodes, insee_codes = _commune_codes(rng, code)
    count = min(int(np.clip(np.sqrt(population) * 1.2, 8, 60)), len(postcodes))
    weights = zipf_weights(count, 1.1, 1.0)
    local_cdf = np.cumsum(weights)
    local_cdf[-1] = 1.0
    for k in range(count):
        name = _commune_name(rng)
        while name in taken:  # unique names: lieu_naissance alone identifies the INSEE code
            name = _commune_name(rng)
        taken.add(name)
        rows.name.append(name)
        rows.insee.append(insee_codes[k])
        rows.postcode.append(postcodes[k])
        rows.department.append(d)
        # Strictly below d + 1 so that the next department's draws never land here.
        rows.in_department_key.append(d + local_cdf[k] * (1 - 1e-12))
        rows.weight.append(population * weights[k])


def _commune_codes(rng: np.random.Generator, code: str) -> tuple[list[str], list[str]]:
    """Postcodes (the first one is the préfecture's x000) and INSEE codes of a department."""
    if len(code) == 3:  # overseas: 971xx
        post = [code + f"{v:02d}" for v in range(0, 100, 5)]
        insee = [code + f"{v:02d}" for v in rng.choice(np.arange(1, 100), 20, replace=False)]
        return post, insee
    if code in ("2A", "2B"):
        base = 0 if code == "2A" else 200
        post = [f"20{v:03d}" for v in range(base, base + 100, 5)]
    else:
        post = [code + f"{v:03d}" for v in range(0, 1000, 10)]
    post = [post[0]] + [post[i] for i in rng.permutation(np.arange(1, len(post)))]
    insee = [code + f"{v:03d}" for v in rng.choice(np.arange(1, 1000), len(post), replace=False)]
    return post, insee


def _landline_prefix(department: str) -> int:
    if len(department) == 3:
        return 9
    for prefix, departments in _LANDLINE_REGION.items():
        if department in departments:
            return int(prefix)
    return 4
