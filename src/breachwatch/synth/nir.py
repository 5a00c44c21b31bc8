"""French NIR (numéro de sécurité sociale): 13 digits and a mod-97 key, computed on arrays.

Layout: sex (1/2), year (YY), month (MM), place of birth on 5 characters (department and commune;
2A/2B for Corsica; 97 + 3 digits overseas; 99 + INSEE country code for people born abroad), order
number (001–999) among the people born the same month at the same place, key = 97 − (NIR mod 97)
where Corsica's 2A and 2B count as 19 and 18.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

ORDERS = 999


def place_number(insee: pa.Array) -> np.ndarray:
    """The 5-character place code as the number the key is computed on (2A → 19, 2B → 18)."""
    codes = [c.replace("2A", "19", 1).replace("2B", "18", 1) for c in insee.to_pylist()]
    return np.array([int(c) for c in codes], dtype=np.int64)


def nir_body(
    sex: np.ndarray, year: np.ndarray, month: np.ndarray, place: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """The 13 digits as an int64 (place already mapped by ``place_number``)."""
    return (
        sex.astype(np.int64) * 10**12
        + (year % 100) * 10**10
        + month * 10**8
        + place * 10**3
        + order
    )


def nir_key(body: np.ndarray) -> np.ndarray:
    return 97 - body % 97


class OrderNumbers:
    """Hands out order numbers so that no two people ever share a NIR.

    A counter per (sex, birth month, place) cell, carried across chunks; within a cell the n-th
    person gets an affine bijection of n mod 999, so numbers look random yet never repeat. A cell
    that is full (999 people) refuses: the caller moves the person to another birthplace.
    """

    def __init__(self, places: int, first_year: int, years: int) -> None:
        self._places = places
        self._first_year = first_year
        self._counts = np.zeros(2 * years * 12 * places, dtype=np.int16)

    def cells(
        self, sex: np.ndarray, year: np.ndarray, month: np.ndarray, place: np.ndarray
    ) -> np.ndarray:
        months = (sex.astype(np.int64) - 1) * (len(self._counts) // (2 * self._places))
        months += (year - self._first_year) * 12 + (month - 1)
        return months * self._places + place

    def assign(self, cells: np.ndarray) -> np.ndarray:
        """Order numbers (1–999) for ``cells``, or 0 where the cell is full."""
        order = np.argsort(cells, kind="stable")
        sorted_cells = cells[order]
        first = np.searchsorted(sorted_cells, sorted_cells, side="left")
        rank = np.empty(len(cells), dtype=np.int64)
        rank[order] = np.arange(len(cells)) - first
        taken = self._counts[cells].astype(np.int64) + rank
        ok = taken < ORDERS
        self._counts += np.bincount(cells[ok], minlength=len(self._counts)).astype(np.int16)
        # 571 is prime to 999 = 27 × 37: n ↦ 571 n + c is a permutation of 0..998 for any c.
        number = 1 + (taken * 571 + cells * 7) % ORDERS
        return np.where(ok, number, 0)
