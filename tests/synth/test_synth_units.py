from __future__ import annotations

import numpy as np
import pytest
from stdnum.fr import nir as stdnir

from breachwatch.synth import engine
from breachwatch.synth.nir import OrderNumbers, nir_body, nir_key
from breachwatch.synth.text import PHONE_STYLES, digits, phones, strings
from breachwatch.synth.unique import SeenSet, permute
from breachwatch.synth.vocab import email_token, email_tokens, lexicon, zipf_weights


@pytest.mark.parametrize("domain", [1, 7, 1000, 2 * 10**8])
def test_permute_is_a_bijection_of_the_domain(domain: int) -> None:
    values = np.arange(min(domain, 50_000))
    out = permute(values, domain, key=5)
    assert len(np.unique(out)) == len(values) and out.min() >= 0 and out.max() < domain
    if domain <= 50_000:
        assert sorted(out.tolist()) == list(range(domain))


def test_seen_set_refuses_repeats_and_issued_hashes() -> None:
    seen = SeenSet(100)
    first = np.array([3, 8, 3, 99], dtype=np.uint64)
    assert seen.clashes(first).tolist() == [False, False, True, False]
    seen.add(first[[0, 1, 3]])
    assert seen.clashes(np.array([8, 5], dtype=np.uint64)).tolist() == [True, False]


@pytest.mark.parametrize(
    "nir", ["295109912611193", "253072B07300470", "253072A07300443", "185037512345678"]
)
def test_nir_key_matches_stdnum(nir: str) -> None:
    place = int(nir[5:10].replace("2A", "19").replace("2B", "18"))
    body = nir_body(
        np.array([int(nir[0])]),
        np.array([int(nir[1:3])]),
        np.array([int(nir[3:5])]),
        np.array([place]),
        np.array([int(nir[10:13])]),
    )
    assert f"{nir_key(body)[0]:02d}" == stdnir.calc_check_digits(nir[:13])


def test_order_numbers_never_repeat_in_a_cell() -> None:
    orders = OrderNumbers(places=3, first_year=1950, years=80)
    cells = orders.cells(
        np.ones(1200, int), np.full(1200, 1985), np.full(1200, 3), np.zeros(1200, int)
    )
    numbers = np.concatenate([orders.assign(cells[:600]), orders.assign(cells[600:])])
    granted = numbers[numbers > 0]
    assert len(granted) == 999 and len(np.unique(granted)) == 999
    assert granted.min() == 1 and granted.max() == 999


def test_phone_styles() -> None:
    out = phones(np.full(6, 612345678), np.arange(6)).to_pylist()
    assert out == [PHONE_STYLES[s] for s in range(6)]
    assert phones(np.array([5, 6]), 0, valid=np.array([True, False])).to_pylist() == [
        "0000000005",
        None,
    ]


def test_fixed_width_strings() -> None:
    assert strings(digits(np.array([7, 123]), 4)).to_pylist() == ["0007", "0123"]


def test_typo_macro_makes_one_slip() -> None:
    con = engine.connect()
    rows = con.execute(
        "SELECT typo('Dupont', k, 0.0, 'x') FROM range(4) t(k) ORDER BY k"
    ).fetchall()
    assert [r[0] for r in rows] == ["Dupont", "Dxpont", "Dpont", "Dpuont"]


def test_sql_literal_escapes_like_mysql() -> None:
    con = engine.connect()
    value = con.execute("SELECT sql_literal('d''Or \\ x'), sql_literal(NULL)").fetchone()
    assert value == ("'d\\'Or \\\\ x'", "NULL")


def test_vocabulary() -> None:
    lex = lexicon()
    weights = zipf_weights(400)
    assert abs(weights.sum() - 1) < 1e-9 and weights[0] > 10 * weights[-1]
    assert lex.last.values[0].as_py() == "Martin"
    assert len(lex.last) > 100_000 and len(set(lex.last.values.to_pylist())) == len(lex.last)
    # Every name survives the cp1252 leak, and the vectorised e-mail token is the scalar one.
    for names in (lex.last.values, lex.first_male.values, lex.first_female.values):
        "|".join(names.to_pylist()).encode("cp1252")
        assert email_tokens(names).to_pylist() == [email_token(n) for n in names.to_pylist()]
    assert email_token("N'Diaye") == "ndiaye" and email_token("Da Silva") == "dasilva"
    assert email_token("Hélène") == "helene"
    names = lex.places.name.to_pylist()
    assert len(set(names)) == len(names)  # a birthplace name identifies its INSEE code
    assert all(d.endswith((".test", ".org", ".com", ".net")) for d in lex.domains.to_pylist())
    assert all(d.startswith("example.") or d.endswith(".test") for d in lex.domains.to_pylist())
    for value in names + lex.streets.values.to_pylist() + lex.last.values.to_pylist():
        assert not set(value) & set(',;"\t\r\n')  # no value ever needs CSV quoting
