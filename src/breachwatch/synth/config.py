"""Every rate the generator uses, in one declarative place.

Each value carries a comment saying why it has that value; ``manifest.json`` repeats them all so
that a score computed on the data can be read against the noise that was put in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

# The day the agency's data was exported by the attackers: ages, registrations and the staleness
# of earlier leaks are measured from it (the real incident was announced in March 2024).
REFERENCE_DATE = date(2024, 3, 1)

# Registry people generated per chunk (plus their share of outsiders). Fixed, not derived from the
# machine, because every random stream is keyed by chunk number: output depends on (people, seed)
# only. 500 k registry people + 500 k outsiders keep one chunk under ~1.5 GB.
CHUNK_PEOPLE = 500_000

# Rows per shuffle bucket when a leak is written out in random order (see spool.py).
BUCKET_ROWS = 1_000_000

# Mobile numbers are a bijection of the identity number into the 2×10⁸ French mobiles (06/07),
# current and previous number each: registry + outsiders, twice, must fit.
MAX_PEOPLE = 50_000_000


@dataclass(frozen=True)
class PopulationSpec:
    # Earlier leaks are mostly other customers of their sector; this pool is shared between them
    # so that one outsider can show up in several earlier leaks.
    outsider_ratio: float = 1.0
    # INSEE household sizes, roughly (1 to 5 people).
    household_sizes: tuple[float, ...] = (0.35, 0.30, 0.15, 0.13, 0.07)
    # Household members not carrying the household's name (partners, flatmates).
    own_surname_share: float = 0.12
    # Women of 25+ in a household who use their spouse's name: nom ≠ nom_naissance.
    married_name_share: float = 0.45
    # Records where nom_naissance was never filled in.
    birth_name_blank_share: float = 0.25
    # A member given the head's first name (Jean Martin father and son): same name, same address.
    namesake_share: float = 0.03
    # A member re-using the head's e-mail local part on another provider: the shared name-derived
    # e-mails that caused most linkage false positives in earlier trials (RESEARCH.md).
    shared_email_local_share: float = 0.12
    # Households with a landline (tel_fixe is empty for the others).
    landline_share: float = 0.40
    # Landlines that are non-geographic 09 box numbers rather than the regional 01–05.
    landline_09_share: float = 0.40
    # NIR department 99 (born abroad, 3-digit INSEE country code in place of the commune).
    born_abroad_share: float = 0.10
    # Born in the department where one lives (else anywhere, by population).
    born_in_home_department_share: float = 0.45
    # Job seekers: 16–70, most 20–60.
    age_mean: float = 38.0
    age_sd: float = 12.5
    age_min: int = 16
    age_max: int = 70
    # Registry categories (current job seekers, former ones, candidate-only accounts).
    categories: Mapping[str, float] = field(
        default_factory=lambda: {
            "demandeur_actuel": 0.45,
            "ancien_demandeur": 0.38,
            "compte_candidat": 0.17,
        }
    )
    # First registrations start when the agency's current information system went live.
    first_registration: date = date(2008, 12, 19)


@dataclass(frozen=True)
class LeakSpec:
    """Who is in one leak and how its copy of them is degraded. Shares are of rows unless said."""

    name: str
    # Share of registry people present, and share of the outsider pool present.
    registry_share: float
    outsider_share: float
    # Extra rows repeating a person already in the leak.
    duplicate_share: float
    # Per group (address, phone, e-mail), independently: the leak holds the previous value.
    stale_share: float
    # Per name field: one character substituted, deleted or transposed.
    typo_share: float = 0.0
    # First and last name swapped.
    swap_share: float = 0.0
    # Accents stripped from names, street and city (Hélène → Helene).
    unaccent_share: float = 0.0
    # Names and city upper-cased.
    upper_share: float = 0.0
    # Street type abbreviated (avenue → av., boulevard → bd, rue → r.).
    abbreviation_share: float = 0.0
    # Per optional field: left empty.
    missing_share: float = 0.0
    # Format-specific quirks, documented where they are used (leaks.py) and in the manifest.
    quirks: Mapping[str, float] = field(default_factory=dict)


MAIN_LEAK = LeakSpec(
    name="main",
    registry_share=0.88,
    # Deleted accounts: ~0.5 % of the leak's rows are people the registry no longer holds.
    outsider_share=0.0045,
    # The real dump had 43 M rows for 36.8 M people; a fraction re-exported is enough here.
    duplicate_share=0.02,
    stale_share=0.03,
)

EARLIER_LEAKS: tuple[LeakSpec, ...] = (
    LeakSpec(
        name="telecom",
        registry_share=0.40,
        outsider_share=0.50,
        duplicate_share=0.03,
        stale_share=0.20,
        typo_share=0.02,
        swap_share=0.01,
        unaccent_share=0.50,
        upper_share=0.30,
        abbreviation_share=0.35,
        missing_share=0.06,
        quirks={
            # Apostrophes turned typographic by the CRM (’ exists in cp1252, not in latin-1).
            "curly_apostrophe": 0.6,
        },
    ),
    LeakSpec(
        name="retail",
        registry_share=0.30,
        outsider_share=0.40,
        duplicate_share=0.025,
        stale_share=0.30,
        typo_share=0.03,
        swap_share=0.02,
        unaccent_share=0.25,
        upper_share=0.10,
        abbreviation_share=0.20,
        missing_share=0.20,
        quirks={
            "email_case_variant": 0.12,  # Jean.Dupont@Example.org
            "email_plus_tag": 0.06,  # jean.dupont+promo@...
            "postcode_as_number": 0.05,  # 01000 → 1000 (a spreadsheet was involved)
        },
    ),
    LeakSpec(
        name="health",
        registry_share=0.20,
        outsider_share=0.25,
        duplicate_share=0.015,
        stale_share=0.15,
        typo_share=0.015,
        swap_share=0.005,
        unaccent_share=0.30,
        upper_share=0.60,
        abbreviation_share=0.25,
        missing_share=0.04,
        quirks={
            "nir_missing": 0.08,
            "nir_spaced": 0.15,  # 1 85 03 75 123 456 78
            "nir_bad_key": 0.01,  # a data-entry slip: the control key no longer matches
            "address_backslash": 0.004,  # "Bât. B\\2": exercises MySQL's \\ escape
        },
    ),
    LeakSpec(
        name="forum",
        registry_share=0.12,
        outsider_share=0.20,
        duplicate_share=0.01,
        stale_share=0.40,
        typo_share=0.01,
        unaccent_share=0.60,
        upper_share=0.05,
        missing_share=0.10,
        quirks={
            # Accounts using one of the ten most common passwords: identical unsalted hashes.
            "common_password": 0.20,
        },
    ),
)
