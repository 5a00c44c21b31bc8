"""Column classification: headers (FR/EN), values, their combination, overrides."""

from __future__ import annotations

import pytest
from faker import Faker

from breachwatch.errors import UsageError
from breachwatch.ingest.classify import (
    ColumnGuess,
    classify_by_name,
    classify_by_values,
    classify_columns,
)
from breachwatch.types import DataClass

HEADERS = {
    DataClass.LAST_NAME: ["Nom", "NOM", "lastname", "surname", "nom_famille", "Last Name"],
    DataClass.FIRST_NAME: ["Prénom", "PRENOM", "firstname", "first_name", "prenom", "firstName"],
    DataClass.BIRTH_NAME: ["nom_naissance", "nom de jeune fille", "birthname", "Nom de naissance"],
    DataClass.NIR: ["N° SS", "numero_securite_sociale", "nir", "ssn", "insee", "NIR", "nº ss"],
    DataClass.PHONE: ["tel", "téléphone", "portable", "mobile", "phone", "TEL", "tel2"],
    DataClass.EMAIL: ["mail", "courriel", "e-mail", "EMAIL", "adresse_mail", "email_2"],
    DataClass.POSTAL_ADDRESS: ["adresse", "address", "street", "rue", "Adresse postale"],
    DataClass.POSTAL_CODE: ["CP", "code_postal", "zip", "postcode", "Code Postal", "zip_code"],
    DataClass.CITY: ["ville", "city", "town", "commune", "Ville"],
    DataClass.DATE_OF_BIRTH: ["date_naissance", "birthdate", "dob", "date de naissance"],
    DataClass.BIRTH_YEAR: ["birth_year", "annee_naissance", "Année de naissance", "yob"],
    DataClass.FULL_NAME: ["full_name", "nom_complet", "Nom complet", "fullName", "nom_prenom"],
    DataClass.PLACE_OF_BIRTH: ["lieu_naissance", "lieu de naissance", "ville_naissance"],
    DataClass.GENDER: ["sexe", "gender", "civilité", "Civilite"],
    DataClass.IBAN: ["iban", "IBAN"],
    DataClass.PASSWORD: ["mot_de_passe", "password", "mdp"],
    DataClass.PASSWORD_HASH: ["hash", "password_hash"],
    DataClass.IP_ADDRESS: ["ip", "adresse_ip", "IPAddress"],
    DataClass.EMPLOYER: ["employeur", "employer"],
    DataClass.AGENCY_ID: ["identifiant", "agency_id", "id_pe", "id_ft", "numero_allocataire"],
    DataClass.RECORD_ID: ["id", "ID", "id_client", "customer_id", "id_personne", "uuid"],
    DataClass.FREE_TEXT: ["commentaire", "notes", "Commentaires"],
}


@pytest.mark.parametrize(
    ("header", "data_class"),
    [(h, dc) for dc, headers in HEADERS.items() for h in headers],
)
def test_headers_name_their_class(header: str, data_class: DataClass) -> None:
    guess = classify_by_name(header)
    assert guess is not None and guess.data_class == data_class
    assert guess.reason == f"header {header!r}" and 0.5 < guess.confidence < 1


@pytest.mark.parametrize("header", ["c7", "col_3", "field", "x", "zz_12", ""])
def test_opaque_headers_name_nothing(header: str) -> None:
    assert classify_by_name(header) is None


def test_a_header_that_is_a_phrase_beats_one_containing_it() -> None:
    exact, partial = classify_by_name("nir"), classify_by_name("nir_assure")
    assert exact is not None and partial is not None
    assert exact.confidence > partial.confidence


_fake = Faker("fr_FR")
_fake.seed_instance(7)
VALUES = {
    DataClass.NIR: [_fake.ssn() for _ in range(200)],
    DataClass.EMAIL: [_fake.email() for _ in range(200)],
    DataClass.PHONE: [_fake.phone_number() for _ in range(200)],
    DataClass.DATE_OF_BIRTH: [_fake.date_of_birth().strftime("%d/%m/%Y") for _ in range(200)],
    DataClass.POSTAL_CODE: ["75015", "13001", "69003", "2000", "97411", "33000"] * 30,
    DataClass.IBAN: [_fake.iban() for _ in range(100)],
    DataClass.IP_ADDRESS: [_fake.ipv4() for _ in range(100)] + [_fake.ipv6() for _ in range(20)],
    DataClass.GENDER: ["M", "F", "F", "M", "Mme", "H"] * 20,
    DataClass.PASSWORD_HASH: [_fake.sha256() for _ in range(50)] + [_fake.md5() for _ in range(9)],
    DataClass.FIRST_NAME: [_fake.first_name() for _ in range(200)],
    DataClass.LAST_NAME: [_fake.last_name() for _ in range(200)],
    DataClass.POSTAL_ADDRESS: [_fake.street_address() for _ in range(200)],
    DataClass.RECORD_ID: [str(100_000 + 7 * i) for i in range(300)],
    DataClass.FREE_TEXT: [_fake.sentence(nb_words=12) for _ in range(50)],
}


@pytest.mark.parametrize("data_class", list(VALUES), ids=str)
def test_values_name_their_class(data_class: DataClass) -> None:
    guess = classify_by_values("c7", VALUES[data_class])
    assert guess is not None and guess.data_class == data_class, guess
    assert guess.column == "c7" and "sampled values are" in guess.reason


def test_value_reason_counts_the_sample() -> None:
    nirs = ["295109912611193"] * 93 + ["295109912611199"] * 7  # 7 bad keys
    guess = classify_by_values("c7", nirs + [None, "", "  "])
    assert guess == ColumnGuess(
        "c7",
        DataClass.NIR,
        pytest.approx(0.92, abs=0.01),
        "93% of 100 sampled values are valid NIRs",
    )


@pytest.mark.parametrize(
    "values", [[], [None, " "], ["foo", "bar", "foo"], ["?", "!!", "--"], ["1", "1", "1"]]
)
def test_unclassifiable_values_name_nothing(values: list[str | None]) -> None:
    assert classify_by_values("c7", values) is None


def test_sample_is_capped() -> None:
    guess = classify_by_values("c7", ["jean@exemple.fr"] * 5000)
    assert guess is not None and "of 1000 sampled values" in guess.reason


# --- combination -------------------------------------------------------------------------------


def _by_column(guesses: list[ColumnGuess]) -> dict[str, ColumnGuess]:
    return {g.column: g for g in guesses}


def test_telecom_dump_headers_and_values_agree() -> None:
    columns = ["NOM", "PRENOM", "TEL", "EMAIL", "VILLE"]
    samples = {
        "NOM": ["Lefèvre", "O’Brien", "Garçon"],
        "PRENOM": ["Hélène", "Chloé", "Noël"],
        "TEL": ["06 12 34 56 78", "+33698765432", "0033 6 11 22 33 44"],
        "EMAIL": ["helene.lefevre@example.org", "chloe.obrien@example.com", "noel@example.net"],
        "VILLE": ["Besançon", "Évry", "Saint-Étienne"],
    }
    guesses = classify_columns(columns, samples)
    assert [g.column for g in guesses] == columns
    assert [g.data_class for g in guesses] == [
        DataClass.LAST_NAME,
        DataClass.FIRST_NAME,
        DataClass.PHONE,
        DataClass.EMAIL,
        DataClass.CITY,
    ]
    by_name = classify_by_name("TEL")
    assert by_name is not None
    phone = guesses[2]
    assert phone.confidence > by_name.confidence
    assert phone.reason == "header 'TEL'; 100% of 3 sampled values are valid phone numbers"


def test_opaque_headers_are_decided_by_values() -> None:
    columns = ["c1", "c2", "c3", "col_4"]
    samples = {
        "c1": VALUES[DataClass.NIR],
        "c2": VALUES[DataClass.EMAIL],
        "c3": VALUES[DataClass.DATE_OF_BIRTH],
        "col_4": VALUES[DataClass.PHONE],
    }
    classes = [g.data_class for g in classify_columns(columns, samples)]
    assert classes == [DataClass.NIR, DataClass.EMAIL, DataClass.DATE_OF_BIRTH, DataClass.PHONE]


def test_strongly_valid_values_overrule_the_header() -> None:
    guess = classify_columns(["tel"], {"tel": VALUES[DataClass.EMAIL]})[0]
    assert guess.data_class == DataClass.EMAIL
    assert "overriding header 'tel' (phone)" in guess.reason


def test_weak_contrary_values_leave_the_header_with_less_confidence() -> None:
    values = ["295109912611193", "pas de numéro", "inconnu", "?", "x"] * 10
    guess = classify_columns(["nir"], {"nir": values})[0]
    header = classify_by_name("nir")
    assert header is not None
    assert guess.data_class == DataClass.NIR and guess.confidence < header.confidence
    assert "although 20% of 50 sampled values are valid NIRs" in guess.reason


def test_a_short_name_list_does_not_contradict_a_name_header() -> None:
    guess = classify_columns(["nom"], {"nom": ["Xylofar", "Quenbrik", "Zulmorde"]})[0]
    assert guess == classify_by_name("nom")


def test_unclassifiable_columns_are_kept_as_unknown() -> None:
    columns = ["c1", "c2", "c3"]
    guesses = classify_columns(columns, {"c1": ["foo", "bar"], "c2": []})
    assert [g.column for g in guesses] == columns
    assert all(g.data_class == DataClass.UNKNOWN and g.confidence <= 0.1 for g in guesses)
    assert "no sampled value" in guesses[1].reason


def test_header_alone_without_sample() -> None:
    assert classify_columns(["Prénom"], {})[0] == classify_by_name("Prénom")


def test_overrides_always_win() -> None:
    samples = {"c1": VALUES[DataClass.EMAIL], "c2": ["x"]}
    guesses = classify_columns(["c1", "c2"], samples, {"c1": DataClass.FREE_TEXT})
    assert guesses[0] == ColumnGuess("c1", DataClass.FREE_TEXT, 1.0, "--map")
    assert guesses[1].data_class == DataClass.UNKNOWN


def test_override_of_a_missing_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="nope"):
        classify_columns(["c1"], {}, {"nope": DataClass.NIR})


def test_numeric_unique_id_is_the_record_id_not_a_postal_code() -> None:
    ids = [str(10_000 + i) for i in range(300)]  # 5 digits, valid as postal codes
    guess = classify_columns(["id"], {"id": ids})[0]
    assert guess.data_class == DataClass.RECORD_ID and guess.confidence > 0.9


def test_only_the_best_record_id_is_kept() -> None:
    columns = ["uuid", "id", "c3"]
    samples = {"uuid": ["a", "b"], "id": [str(i) for i in range(1, 200)], "c3": ["x"]}
    guesses = _by_column(classify_columns(columns, samples))
    assert guesses["id"].data_class == DataClass.RECORD_ID
    assert guesses["uuid"].data_class == DataClass.UNKNOWN
    assert "'id' is the record_id" in guesses["uuid"].reason


def test_a_mapped_record_id_demotes_the_guessed_one() -> None:
    samples = {"id": [str(i) for i in range(1, 200)], "ref": ["r1", "r2"]}
    guesses = _by_column(classify_columns(["id", "ref"], samples, {"ref": DataClass.RECORD_ID}))
    assert guesses["ref"].data_class == DataClass.RECORD_ID
    assert guesses["id"].data_class == DataClass.UNKNOWN


def test_two_mapped_record_ids_are_a_usage_error() -> None:
    overrides = {"a": DataClass.RECORD_ID, "b": DataClass.RECORD_ID}
    with pytest.raises(UsageError, match="record_id"):
        classify_columns(["a", "b"], {}, overrides)


def test_weak_signals_do_not_overrule_a_header() -> None:
    insee_codes = [f"2A{i:03d}" for i in range(1, 21)]  # distinct codes, digits included
    guess = classify_columns(["commune"], {"commune": insee_codes})[0]
    assert guess == classify_by_name("commune")


# --- record attributes and weak value-only evidence (found on the synthetic leaks) -------------


def test_registration_date_is_not_a_date_of_birth() -> None:
    dates = [f"20{y:02d}-0{m}-1{m}" for y in range(10, 25) for m in range(1, 8)]
    (guess,) = classify_columns(["date_inscription"], {"date_inscription": dates})
    assert guess.data_class is DataClass.UNKNOWN
    assert "record attribute" in guess.reason


@pytest.mark.parametrize("header", ["loyalty_points", "age", "categorie", "OFFRE"])
def test_attribute_headers_stay_unknown_whatever_the_values(header: str) -> None:
    values = [str(1000 + 37 * i) for i in range(300)]
    (guess,) = classify_columns([header], {header: values})
    assert guess.data_class is DataClass.UNKNOWN


def test_attribute_header_full_of_emails_is_still_email() -> None:
    values = [f"person{i}@example.org" for i in range(200)]
    (guess,) = classify_columns(["status"], {"status": values})
    assert guess.data_class is DataClass.EMAIL


def test_opaque_counts_are_not_postal_codes() -> None:
    # Counts repeat (not identifiers); 78% of them fall in the postal-code range.
    values = [str(1000 + (i * 37) % 9000) for i in range(780)] + ["12", "7"] * 110
    (guess,) = classify_columns(["c4"], {"c4": values})
    assert guess.data_class is DataClass.UNKNOWN


def test_opaque_column_with_few_first_names_is_unknown() -> None:
    values = ["Marie", "Jean", "xX_dark_Xx", "kevin93", "zorglub", "pseudo", "Luc", "qwerty"] * 50
    (guess,) = classify_columns(["username"], {"username": values})
    assert guess.data_class is DataClass.UNKNOWN


def test_a_forum_export_has_a_full_name_and_a_birth_year() -> None:
    columns = ["username", "email", "full_name", "city", "birth_year"]
    samples: dict[str, list[str | None]] = {
        "username": ["jdupont85", "marie.l", "kevin42"],
        "email": ["jean.dupont@exemple.fr", "marie.l@exemple.fr", "kevin@exemple.fr"],
        "full_name": ["Jean Dupont", "Marie Lefèvre", "KEVIN MARTIN"],
        "city": ["Paris", "Lyon", "Rennes"],
        "birth_year": ["1985", "1972", None],
    }
    classes = {g.column: g.data_class for g in classify_columns(columns, samples)}
    assert classes["full_name"] is DataClass.FULL_NAME
    assert classes["birth_year"] is DataClass.BIRTH_YEAR


def test_years_without_a_telling_header_are_no_birth_year() -> None:
    guess = classify_columns(["c7"], {"c7": ["1985", "1972", "1990", "1964"] * 10})[0]
    assert guess.data_class is not DataClass.BIRTH_YEAR
