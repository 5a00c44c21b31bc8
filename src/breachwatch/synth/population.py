"""Synthetic people, a chunk at a time: the registry's members and the outsider pool.

A chunk holds households (shared surname, address and landline), whose members are then dealt at
random between the registry and the pool of outsiders who only appear in other sectors' leaks.
Each chunk returns one Arrow table, one row per identity, registry members first in person-number
order. Identity numbers: 1..people for the registry (= person number), then the outsiders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from breachwatch.synth import engine, text
from breachwatch.synth.config import CHUNK_PEOPLE, REFERENCE_DATE, PopulationSpec
from breachwatch.synth.nir import OrderNumbers, nir_body, nir_key, place_number
from breachwatch.synth.unique import SeenSet, permute
from breachwatch.synth.vocab import Lexicon, email_tokens, lexicon

_STREAM = 1  # random stream family of the population (leaks use others)
_AGENCY_ID_SPACE = 10**7 * 26  # 7 digits and a letter
_BLOCK = 10**6  # numbers per allocated prefix (0X YZ followed by 6 digits)


def _valid_prefixes(first: int) -> np.ndarray:
    """The 3-digit prefixes (``6YZ`` for 06 YZ ...) that phonenumbers accepts whole: numbers in
    unallocated ranges (06 9x, 07 0x, 04 0x...) would be invalid and spoil the ground truth."""
    found = []
    for rest in range(100):
        samples = (f"0{first}{rest:02d}{tail}" for tail in ("000000", "123456", "999999"))
        if all(phonenumbers.is_valid_number(phonenumbers.parse(n, "FR")) for n in samples):
            found.append(first * 100 + rest)
    return np.array(found, dtype=np.int64)


_MOBILE_PREFIXES = np.concatenate([_valid_prefixes(6), _valid_prefixes(7)])
_MOBILE_SPACE = len(_MOBILE_PREFIXES) * _BLOCK
_LANDLINE_PREFIXES = {d: _valid_prefixes(d) for d in (1, 2, 3, 4, 5, 9)}
# Every landline digit has at least this many valid prefixes: one bijection serves them all.
_LANDLINE_SPACE = min(len(p) for p in _LANDLINE_PREFIXES.values()) * _BLOCK
# Keys of the bijections: fixed, so that a phone number is a function of the identity only.
_KEY_MOBILE, _KEY_AGENCY, _KEY_LANDLINE = 11, 12, 13

# E-mail local parts: 0 jean.dupont, 1 jean.dupont42, 2 jdupont, 3 jeandupont, 4 jean_dupont,
# 5 dupont.jean, 6 jean1985, 7 jean.dupont85, 8 j.dupont42.
_EMAIL_PATTERNS = np.array([0.33, 0.12, 0.10, 0.08, 0.05, 0.07, 0.08, 0.10, 0.07])
_LOCAL_PART_SQL = """
CASE {p}
    WHEN 0 THEN fn || '.' || ln
    WHEN 1 THEN fn || '.' || ln || CAST(nn AS VARCHAR)
    WHEN 2 THEN fn[1:1] || ln
    WHEN 3 THEN fn || ln
    WHEN 4 THEN fn || '_' || ln
    WHEN 5 THEN ln || '.' || fn
    WHEN 6 THEN fn || CAST(year AS VARCHAR)
    WHEN 7 THEN fn || '.' || ln || lpad(CAST(year % 100 AS VARCHAR), 2, '0')
    ELSE fn[1:1] || '.' || ln || CAST(nn AS VARCHAR)
END"""
_EMAIL_SQL = (
    "SELECT local || CASE WHEN suffix > 0 THEN CAST(suffix AS VARCHAR) ELSE '' END"
    " || '@' || domain AS email FROM t"
)


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    registry: int
    outsiders: int
    first_person: int  # 0-based person number of the chunk's first registry member
    first_outsider: int  # 0-based position in the outsider pool


def plan_chunks(people: int, spec: PopulationSpec) -> list[ChunkPlan]:
    plans: list[ChunkPlan] = []
    outsiders = 0
    for index in range(math.ceil(people / CHUNK_PEOPLE)):
        registry = min(CHUNK_PEOPLE, people - index * CHUNK_PEOPLE)
        pool = round(registry * spec.outsider_ratio)
        plans.append(ChunkPlan(index, registry, pool, index * CHUNK_PEOPLE, outsiders))
        outsiders += pool
    return plans


@dataclass
class _Households:
    of: np.ndarray  # household number of each row (global)
    head: np.ndarray  # row of the household's first member
    is_head: np.ndarray
    count: int


@dataclass
class _Person:
    """Arrays in row order of the chunk before registry and outsiders are dealt."""

    female: np.ndarray
    birth: np.ndarray  # days since 1970-01-01
    first: np.ndarray  # index into first names (male list, then female list)
    last: np.ndarray
    birth_name: np.ndarray  # -1: left blank
    place: np.ndarray  # birthplace, index into places
    order: np.ndarray  # NIR order number


class Population:
    """Generates the chunks in order; holds what must stay unique across them."""

    def __init__(self, people: int, seed: int, spec: PopulationSpec) -> None:
        self.people = people
        self.seed = seed
        self.spec = spec
        self.plans = plan_chunks(people, spec)
        self.pool = sum(p.outsiders for p in self.plans)
        self.lex: Lexicon = lexicon()
        self._con = engine.connect()
        self._emails = SeenSet(2 * (people + self.pool))
        first_year = REFERENCE_DATE.year - spec.age_max - 1
        self._orders = OrderNumbers(len(self.lex.places.name), first_year, spec.age_max + 2)
        self._first_names = pa.concat_arrays(
            [self.lex.first_male.values, self.lex.first_female.values]
        )
        self._place_numbers = place_number(self.lex.places.insee)
        self._insee_bytes = text.fixed(self.lex.places.insee.to_pylist())
        self._first_tokens = email_tokens(self._first_names)
        self._last_tokens = email_tokens(self.lex.last.values)

    @property
    def identities(self) -> int:
        return self.people + self.pool

    def chunk(self, plan: ChunkPlan) -> pa.Table:
        rng = np.random.default_rng([self.seed, _STREAM, plan.index])
        n = plan.registry + plan.outsiders
        house = self._households(rng, n, plan.index)
        person = self._people(rng, n, house)
        # Deal rows between registry and pool: output row k is draft row deal[k].
        deal = rng.permutation(n)
        return self._table(rng, plan, house, person, deal)

    # -- households and people -------------------------------------------------------------

    def _households(self, rng: np.random.Generator, n: int, chunk: int) -> _Households:
        weights = np.asarray(self.spec.household_sizes)
        sizes = 1 + rng.choice(len(weights), size=n, p=weights / weights.sum())
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
        local = np.repeat(np.arange(len(sizes)), sizes)[:n]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        head = starts[local]
        # Households never span chunks and a chunk has fewer households than identities, so this
        # offset keeps household numbers unique and below the number of identities.
        offset = chunk * (CHUNK_PEOPLE + round(CHUNK_PEOPLE * self.spec.outsider_ratio))
        return _Households(offset + local, head, head == np.arange(n), len(sizes))

    def _people(self, rng: np.random.Generator, n: int, house: _Households) -> _Person:
        female = rng.random(n) < 0.5
        birth = self._birth_dates(rng, n)
        first = self._first(rng, female, house)
        last, birth_name = self._surnames(rng, female, birth, house)
        return _Person(
            female, birth, first, last, birth_name, np.zeros(n, np.int32), np.zeros(n, np.int64)
        )

    def _birth_dates(self, rng: np.random.Generator, n: int) -> np.ndarray:
        spec = self.spec
        age = rng.normal(spec.age_mean, spec.age_sd, n)
        bad = (age < spec.age_min) | (age >= spec.age_max + 1)
        while bad.any():
            age[bad] = rng.normal(spec.age_mean, spec.age_sd, int(bad.sum()))
            bad = (age < spec.age_min) | (age >= spec.age_max + 1)
        return _days(REFERENCE_DATE) - np.floor(age * 365.25).astype(np.int64) - 1

    def _first(
        self, rng: np.random.Generator, female: np.ndarray, house: _Households
    ) -> np.ndarray:
        male = self.lex.first_male.draw(rng, len(female))
        other = len(self.lex.first_male) + self.lex.first_female.draw(rng, len(female))
        first = np.where(female, other, male)
        namesake = (~house.is_head) & (female == female[house.head])
        namesake &= rng.random(len(female)) < self.spec.namesake_share
        first[namesake] = first[house.head[namesake]]
        return first

    def _surnames(
        self, rng: np.random.Generator, female: np.ndarray, birth: np.ndarray, house: _Households
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(female)
        family = self.lex.last.draw(rng, house.count)[house.of - house.of[0]]
        own = self.lex.last.draw(rng, n)
        keeps_own = (~house.is_head) & (rng.random(n) < self.spec.own_surname_share)
        last = np.where(keeps_own, own, family)
        adult = birth < _days(REFERENCE_DATE) - 25 * 365
        married = female & adult & ~keeps_own & (rng.random(n) < self.spec.married_name_share)
        blank = rng.random(n) < self.spec.birth_name_blank_share
        birth_name = np.where(married, own, np.where(blank, -1, last))
        return last, birth_name

    # -- the identity table ----------------------------------------------------------------

    def _table(
        self,
        rng: np.random.Generator,
        plan: ChunkPlan,
        house: _Households,
        person: _Person,
        deal: np.ndarray,
    ) -> pa.Table:
        homes = self._homes(rng, house)
        self._birthplaces(rng, person, homes["department"])
        now, old = self._emails_for(rng, person, house)
        identity = np.empty(len(deal), dtype=np.int64)
        identity[: plan.registry] = plan.first_person + np.arange(plan.registry)
        identity[plan.registry :] = self.people + plan.first_outsider + np.arange(plan.outsiders)
        dealt = pa.array(deal)
        table = self._columns(rng, house, person, homes, deal)
        table = table.append_column("email", now.take(dealt))
        table = table.append_column("email_old", old.take(dealt))
        return self._finish(table, identity, plan)

    def _homes(self, rng: np.random.Generator, house: _Households) -> dict[str, np.ndarray]:
        """Current and previous address of each household, spread to its members."""
        places = self.lex.places
        h = house.count
        commune = places.draw_residence(rng, h)
        department = places.department[commune]
        moved_near = rng.random(h) < 0.5
        old = np.where(
            moved_near, places.draw_in_department(rng, department), places.draw_residence(rng, h)
        )
        has_line = rng.random(h) < self.spec.landline_share
        box = (rng.random(h) < self.spec.landline_09_share) | (
            places.landline_prefix[department] == 9
        )
        prefix = np.where(box, 9, places.landline_prefix[department])
        number = _landline(
            prefix, permute(house.of[house.is_head], _LANDLINE_SPACE, _KEY_LANDLINE + self.seed)
        )
        per_house = {
            "commune": commune,
            "department": department,
            "street": self.lex.streets.draw(rng, h),
            "number": _street_numbers(rng, h),
            "old_commune": old,
            "old_street": self.lex.streets.draw(rng, h),
            "old_number": _street_numbers(rng, h),
            "landline": np.where(has_line, number, -1),
        }
        member_house = house.of - house.of[0]
        return {k: v[member_house] for k, v in per_house.items()}

    def _birthplaces(
        self, rng: np.random.Generator, person: _Person, home_department: np.ndarray
    ) -> None:
        places = self.lex.places
        n = len(person.female)
        u = rng.random(n)
        abroad = u < self.spec.born_abroad_share
        at_home = ~abroad & (
            u < self.spec.born_abroad_share + self.spec.born_in_home_department_share
        )
        place = places.draw_residence(rng, n)
        place[at_home] = places.draw_in_department(rng, home_department[at_home])
        place[abroad] = places.draw_country(rng, int(abroad.sum()))
        sex = np.where(person.female, 2, 1)
        year, month = _year_month(person.birth)
        pending = np.arange(n)
        while len(pending):
            cells = self._orders.cells(sex[pending], year[pending], month[pending], place[pending])
            order = self._orders.assign(cells)
            person.place[pending] = place[pending]
            person.order[pending] = order
            # A full cell: born elsewhere instead (another commune, by population).
            pending = pending[order == 0]
            place[pending] = places.draw_residence(rng, len(pending))

    def _emails_for(
        self, rng: np.random.Generator, person: _Person, house: _Households
    ) -> tuple[pa.Array, pa.Array]:
        n = len(person.female)
        pattern = rng.choice(len(_EMAIL_PATTERNS), size=(2, n), p=_EMAIL_PATTERNS)
        keep_old_local = rng.random(n) < 0.7
        pattern[1] = np.where(keep_old_local, pattern[0], pattern[1])
        year, _ = _year_month(person.birth)
        parts = pa.table(
            {
                "fn": self._first_tokens.take(pa.array(person.first)),
                "ln": self._last_tokens.take(pa.array(person.last)),
                "nn": rng.integers(1, 100, n),
                "year": year,
                "p0": pattern[0],
                "p1": pattern[1],
            }
        )
        sql = (
            f"SELECT {_LOCAL_PART_SQL.format(p='p0')} AS now,"
            f" {_LOCAL_PART_SQL.format(p='p1')} AS old FROM t"
        )
        locals_ = engine.run(self._con, sql, t=parts)
        # Family members re-using the head's local part on their own provider.
        source = np.arange(n)
        shares = (~house.is_head) & (rng.random(n) < self.spec.shared_email_local_share)
        source[shares] = house.head[shares]
        domains = self._domains(rng, house, shares)
        now = locals_["now"].take(pa.array(source))
        local = pa.concat_arrays([now.combine_chunks(), locals_["old"].combine_chunks()])
        emails = self._unique_emails(rng, local, np.concatenate(domains))
        return emails.slice(0, n), emails.slice(n)

    def _domains(
        self, rng: np.random.Generator, house: _Households, shares: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Provider today and before; a shared local part or a change needs another provider."""
        lex = self.lex
        count = len(lex.domains)
        n = len(house.of)
        now = np.searchsorted(lex.domain_cdf, rng.random(n), side="right")
        same = shares & (now == now[house.head])
        now = np.where(same, (now + 1 + rng.integers(0, count - 1, n)) % count, now)
        old = np.searchsorted(lex.old_domain_cdf, rng.random(n), side="right")
        old = np.where(old == now, (old + 1) % count, old)
        return now, old

    def _unique_emails(
        self, rng: np.random.Generator, local: pa.Array, domain_index: np.ndarray
    ) -> pa.Array:
        """Append digits to every e-mail already issued (jean.dupont → jean.dupont73) until
        each is unique in this chunk and in all chunks before."""
        domain = self.lex.domains.take(pa.array(domain_index))
        suffix = np.zeros(len(local), dtype=np.int64)
        hashes = self._email_hashes(local, suffix, domain)
        rows = np.arange(len(local))
        digits = 2
        while True:
            clash = self._emails.clashes(hashes)
            self._emails.add(hashes[~clash])
            rows = rows[clash]
            if not len(rows):
                break
            # Only the refused rows are redrawn: the accepted ones are in the set already.
            suffix[rows] = rng.integers(1, 10**digits, len(rows))
            taken = pa.array(rows)
            hashes = self._email_hashes(local.take(taken), suffix[rows], domain.take(taken))
            digits += 1
        table = pa.table({"local": local, "suffix": suffix, "domain": domain})
        return engine.run(self._con, _EMAIL_SQL, t=table)["email"].combine_chunks()

    def _email_hashes(self, local: pa.Array, suffix: np.ndarray, domain: pa.Array) -> np.ndarray:
        table = pa.table({"local": local, "suffix": suffix, "domain": domain})
        sql = f"SELECT hash(email) AS h FROM ({_EMAIL_SQL})"
        return engine.run(self._con, sql, t=table)["h"].to_numpy().astype(np.uint64)

    def _columns(
        self,
        rng: np.random.Generator,
        house: _Households,
        person: _Person,
        homes: dict[str, np.ndarray],
        deal: np.ndarray,
    ) -> pa.Table:
        """The draft arrays in dealt order, names and places as strings."""
        lex, places = self.lex, self.lex.places
        year, month = _year_month(person.birth[deal])
        female = person.female[deal]
        sex, place, order = np.where(female, 2, 1), person.place[deal], person.order[deal]
        key = nir_key(nir_body(sex, year, month, self._place_numbers[place], order))
        nir = text.strings(
            text.digits(sex, 1),
            text.digits(year % 100, 2),
            text.digits(month, 2),
            self._insee_bytes[place],
            text.digits(order, 3),
            text.digits(key, 2),
        )
        category = rng.choice(
            len(self.spec.categories), len(deal), p=list(self.spec.categories.values())
        )
        home = {k: v[deal] for k, v in homes.items()}

        def pick(values: pa.Array, index: np.ndarray) -> pa.Array:
            return values.take(pa.array(index[deal]))

        return pa.table(
            {
                "household": house.of[deal],
                "sex": pc.if_else(pa.array(female), "F", "M"),
                "first_name": pick(self._first_names, person.first),
                "last_name": pick(lex.last.values, person.last),
                "birth_name": lex.last.values.take(_nullable(person.birth_name[deal])),
                "birth_date": pa.array(person.birth[deal].astype("datetime64[D]")),
                "birth_place": pick(places.name, person.place),
                "nir": nir,
                "address": _address(home["number"], lex.streets.values, home["street"]),
                "postcode": places.postcode.take(pa.array(home["commune"])),
                "city": places.name.take(pa.array(home["commune"])),
                "old_address": _address(home["old_number"], lex.streets.values, home["old_street"]),
                "old_postcode": places.postcode.take(pa.array(home["old_commune"])),
                "old_city": places.name.take(pa.array(home["old_commune"])),
                "landline": pa.array(home["landline"], mask=home["landline"] < 0),
                "category": pa.array(list(self.spec.categories)).take(pa.array(category)),
                "registered_on": self._registration(rng, person.birth[deal], category),
            }
        )

    def _registration(
        self, rng: np.random.Generator, birth: np.ndarray, category: np.ndarray
    ) -> pa.Array:
        start = np.maximum(_days(self.spec.first_registration), birth + int(16 * 365.25))
        # Former job seekers left at least half a year before the export.
        former = list(self.spec.categories).index("ancien_demandeur")
        end = _days(REFERENCE_DATE) - np.where(category == former, 180, 1)
        end = np.maximum(end, start + 1)
        day = start + np.floor(rng.random(len(birth)) * (end - start)).astype(np.int64)
        return pa.array(day.astype("datetime64[D]"))

    def _finish(self, table: pa.Table, identity: np.ndarray, plan: ChunkPlan) -> pa.Table:
        """Identifiers that are functions of the identity number: unique by bijection."""
        n = len(identity)
        mobile = permute(identity, _MOBILE_SPACE, _KEY_MOBILE + self.seed)
        # The previous number is the image of a second, disjoint range: never anyone's current.
        # Beyond ~40 M people that range runs out; those identities keep one number.
        second = identity + self.identities
        fits = second < _MOBILE_SPACE
        old = np.where(
            fits, permute(np.where(fits, second, 0), _MOBILE_SPACE, _KEY_MOBILE + self.seed), mobile
        )
        agency = permute(identity, _AGENCY_ID_SPACE, _KEY_AGENCY + self.seed)
        registry = np.arange(n) < plan.registry
        letter = (ord("A") + agency % 26).astype(np.uint8)[:, None]
        extra = pa.table(
            {
                "identity": identity + 1,
                "person_id": text.strings(
                    text.chars("P", n), text.digits(identity + 1, 8), valid=registry
                ),
                "agency_id": text.strings(text.digits(agency // 26, 7), letter),
                "mobile": _mobile(mobile),
                "mobile_old": _mobile(old),
                "in_registry": registry,
            }
        )
        return _merge(table, extra)


def _mobile(index: np.ndarray) -> np.ndarray:
    """National number without the leading 0 (6YZ xxxxxx) of the index-th valid mobile."""
    return _MOBILE_PREFIXES[index // _BLOCK] * _BLOCK + index % _BLOCK


def _landline(first_digit: np.ndarray, index: np.ndarray) -> np.ndarray:
    out = np.empty_like(index)
    for digit, prefixes in _LANDLINE_PREFIXES.items():
        mask = first_digit == digit
        out[mask] = prefixes[index[mask] // _BLOCK] * _BLOCK + index[mask] % _BLOCK
    return out


def _merge(left: pa.Table, right: pa.Table) -> pa.Table:
    for name in right.column_names:
        left = left.append_column(name, right[name])
    return left


def _address(number: np.ndarray, streets: pa.Array, street: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.cast(pa.array(number), pa.string()), streets.take(pa.array(street)), " "
    )


def _nullable(index: np.ndarray) -> pa.Array:
    return pa.array(np.where(index < 0, 0, index), mask=index < 0)


def _days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _year_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return year, month


def _street_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    # Low numbers are the most common: every street has a 1, few have a 250.
    return np.minimum(1 + np.floor(rng.exponential(30.0, n)), 400).astype(np.int64)
