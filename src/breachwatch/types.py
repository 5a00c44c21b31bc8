"""Shared vocabulary: data classes and the canonical record schema every capability reads.

Data class names appear verbatim in the CLI, the API, reports and notification texts; they are
translated only at the edge (see ``DATA_CLASS_LABELS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DataClass(StrEnum):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    # First and last name in one field ("Jean Dupont", either order): a forum's display name.
    FULL_NAME = "full_name"
    BIRTH_NAME = "birth_name"
    NIR = "nir"
    AGENCY_ID = "agency_id"
    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postal_address"
    POSTAL_CODE = "postal_code"
    CITY = "city"
    DATE_OF_BIRTH = "date_of_birth"
    BIRTH_YEAR = "birth_year"
    PLACE_OF_BIRTH = "place_of_birth"
    GENDER = "gender"
    IBAN = "iban"
    PASSWORD = "password"
    PASSWORD_HASH = "password_hash"
    IP_ADDRESS = "ip_address"
    EMPLOYER = "employer"
    RECORD_ID = "record_id"
    FREE_TEXT = "free_text"
    UNKNOWN = "unknown"


DATA_CLASS_LABELS: dict[DataClass, tuple[str, str]] = {
    # (French, English): the only place data class names are translated.
    DataClass.FIRST_NAME: ("prénom", "first name"),
    DataClass.LAST_NAME: ("nom", "last name"),
    DataClass.FULL_NAME: ("nom complet", "full name"),
    DataClass.BIRTH_NAME: ("nom de naissance", "birth name"),
    DataClass.NIR: ("numéro de sécurité sociale", "social security number"),
    DataClass.AGENCY_ID: ("identifiant agence", "agency identifier"),
    DataClass.EMAIL: ("adresse e-mail", "e-mail address"),
    DataClass.PHONE: ("numéro de téléphone", "phone number"),
    DataClass.POSTAL_ADDRESS: ("adresse postale", "postal address"),
    DataClass.POSTAL_CODE: ("code postal", "postal code"),
    DataClass.CITY: ("ville", "city"),
    DataClass.DATE_OF_BIRTH: ("date de naissance", "date of birth"),
    DataClass.BIRTH_YEAR: ("année de naissance", "birth year"),
    DataClass.PLACE_OF_BIRTH: ("lieu de naissance", "place of birth"),
    DataClass.GENDER: ("sexe", "gender"),
    DataClass.IBAN: ("IBAN", "IBAN"),
    DataClass.PASSWORD: ("mot de passe", "password"),
    DataClass.PASSWORD_HASH: ("empreinte de mot de passe", "password hash"),
    DataClass.IP_ADDRESS: ("adresse IP", "IP address"),
    DataClass.EMPLOYER: ("employeur", "employer"),
    DataClass.RECORD_ID: ("identifiant d'enregistrement", "record identifier"),
    DataClass.FREE_TEXT: ("texte libre", "free text"),
    DataClass.UNKNOWN: ("inconnu", "unknown"),
}


class Role(StrEnum):
    LEAK = "leak"
    REGISTRY = "registry"


@dataclass(frozen=True)
class Slot:
    """One column of the canonical ``records`` table.

    A data class owns one or more *slots* (``phone`` and ``phone_2``: a registry holds a mobile
    and a landline). Each slot has a normalised value column named like the slot, a validity
    column ``<slot>_valid`` (NULL = absent, FALSE = present but invalid, TRUE = valid) and,
    for classes compared by linkage, extra *match forms* (``<slot>_match``).
    """

    name: str
    data_class: DataClass
    sql_type: str = "VARCHAR"
    match_form: bool = False


# Order matters: the first free slot of a class receives the first column mapped to it.
SLOTS: tuple[Slot, ...] = (
    Slot("record_id", DataClass.RECORD_ID),
    Slot("first_name", DataClass.FIRST_NAME, match_form=True),
    Slot("last_name", DataClass.LAST_NAME, match_form=True),
    Slot("full_name", DataClass.FULL_NAME, match_form=True),
    Slot("birth_name", DataClass.BIRTH_NAME, match_form=True),
    Slot("nir", DataClass.NIR),
    Slot("agency_id", DataClass.AGENCY_ID),
    Slot("email", DataClass.EMAIL, match_form=True),
    Slot("email_2", DataClass.EMAIL, match_form=True),
    Slot("phone", DataClass.PHONE),
    Slot("phone_2", DataClass.PHONE),
    Slot("postal_address", DataClass.POSTAL_ADDRESS, match_form=True),
    Slot("postal_code", DataClass.POSTAL_CODE),
    Slot("city", DataClass.CITY, match_form=True),
    Slot("date_of_birth", DataClass.DATE_OF_BIRTH, sql_type="DATE"),
    Slot("birth_year", DataClass.BIRTH_YEAR, sql_type="INTEGER"),
    Slot("place_of_birth", DataClass.PLACE_OF_BIRTH, match_form=True),
    Slot("gender", DataClass.GENDER),
    Slot("iban", DataClass.IBAN),
    Slot("password", DataClass.PASSWORD),
    Slot("password_hash", DataClass.PASSWORD_HASH),
    Slot("ip_address", DataClass.IP_ADDRESS),
    Slot("employer", DataClass.EMPLOYER),
    Slot("free_text", DataClass.FREE_TEXT),
)

SLOTS_BY_CLASS: dict[DataClass, tuple[Slot, ...]] = {
    dc: tuple(s for s in SLOTS if s.data_class == dc) for dc in DataClass
}


def slot_columns(slot: Slot) -> list[tuple[str, str]]:
    """(column name, DuckDB type) of every column a slot adds to the ``records`` table."""
    cols = [(slot.name, slot.sql_type), (f"{slot.name}_valid", "BOOLEAN")]
    if slot.match_form:
        cols.append((f"{slot.name}_match", "VARCHAR"))
    return cols
