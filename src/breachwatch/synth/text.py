"""Fixed-width text straight from numbers: an (n × width) byte matrix becomes an Arrow string
array without formatting one string at a time (NIRs, ids, phone numbers, dates)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ``values`` as an (n × width) ASCII matrix."""
    # One pass per digit on a 1-D array, in 32 bits when the values allow it: ~25× faster than
    # broadcasting a division over an (n × width) int64 matrix.
    x = np.asarray(values)
    x = x.astype(np.uint32 if width <= 9 else np.uint64)
    out = np.empty((width, len(x)), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        quotient = x // 10
        out[k] = x - quotient * 10 + ord("0")
        x = quotient
    return out.T


def chars(text: str, n: int) -> np.ndarray:
    """The same ASCII ``text`` on every one of ``n`` rows."""
    return np.broadcast_to(np.frombuffer(text.encode("ascii"), dtype=np.uint8), (n, len(text)))


def fixed(matrix: np.ndarray) -> np.ndarray:
    """Byte matrix of a list of equal-length ASCII strings (a lookup table for codes)."""
    return np.frombuffer("".join(matrix).encode("ascii"), dtype=np.uint8).reshape(len(matrix), -1)


def strings(*parts: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Concatenate byte matrices column-wise and return them as one string per row."""
    matrix = np.ascontiguousarray(np.hstack(parts))
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )


# How a French number is written (the number is the 9 digits after the leading 0):
PHONE_STYLES = {
    0: "0612345678",
    1: "06 12 34 56 78",
    2: "+33612345678",
    3: "0033612345678",
    4: "06.12.34.56.78",
    5: "+33 6 12 34 56 78",
}


def phones(
    numbers: np.ndarray, style: np.ndarray | int, valid: np.ndarray | None = None
) -> pa.Array:
    """Phone numbers as text, each row in its own style (see ``PHONE_STYLES``)."""
    n = len(numbers)
    styles = np.broadcast_to(np.asarray(style), (n,))
    present = np.unique(styles)
    if len(present) <= 1:
        return _phones(numbers, int(present[0]) if n else 0, valid)
    # Format each style's rows together, then put every row back in its place.
    rows = np.argsort(styles, kind="stable")
    parts = [
        _phones(
            numbers[rows[styles[rows] == s]],
            int(s),
            None if valid is None else valid[rows[styles[rows] == s]],
        )
        for s in present
    ]
    inverse = np.empty(n, dtype=np.int64)
    inverse[rows] = np.arange(n)
    return pa.concat_arrays(parts).take(pa.array(inverse))


def phone_column(numbers: pa.Array | pa.ChunkedArray, style: int) -> pa.Array:
    """``phones`` for an Arrow column where null means no number."""
    valid = pc.is_valid(numbers).to_numpy(zero_copy_only=False)
    return phones(pc.fill_null(numbers, 0).to_numpy(), style, valid=valid)


def _phones(numbers: np.ndarray, style: int, valid: np.ndarray | None) -> pa.Array:
    d = digits(numbers, 10)
    n = len(numbers)

    def pairs(sep: str) -> list[np.ndarray]:
        out: list[np.ndarray] = [d[:, 0:2]]
        for k in range(2, 10, 2):
            out += [chars(sep, n), d[:, k : k + 2]]
        return out

    layouts: dict[int, list[np.ndarray]] = {
        0: [d],
        1: pairs(" "),
        2: [chars("+33", n), d[:, 1:]],
        3: [chars("0033", n), d[:, 1:]],
        4: pairs("."),
        5: [chars("+33 ", n), d[:, 1:2], chars(" ", n), *pairs(" ")[2:]],
    }
    return strings(*layouts[style], valid=valid)
