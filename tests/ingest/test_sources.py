"""Opening inputs: encodings, compression, bombs, garbage, over-long lines."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from breachwatch.errors import InputError, Location
from breachwatch.ingest.sources import (
    TOO_LONG_MARK,
    SourceRef,
    Utf8Stream,
    check_text,
    expand_inputs,
    open_decompressed,
    scan,
)
from breachwatch.settings import load_settings

DUMPS = Path(__file__).parents[1] / "data" / "dumps"


def _settings(**over: object) -> dict[str, object]:
    settings = load_settings()
    settings.update(over)
    return settings


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("telecom_cp1252.csv", "cp1252"),
        ("mixed_encoding.csv", "mixed"),
        ("bom.csv", "utf-8-sig"),
        ("quoted_newlines.csv", "utf-8"),
        ("gzipped.tsv.gz", "utf-8"),
    ],
)
def test_encoding_detection(name: str, encoding: str) -> None:
    assert scan(SourceRef(DUMPS / name), _settings()).encoding == encoding


def test_latin1_when_cp1252_holes_present(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"a,b\n\x81x,\xe9t\xe9\n")
    assert scan(SourceRef(path), _settings()).encoding == "latin-1"


def _read(path: Path, encoding: str, max_line: int = 1 << 20) -> str:
    stream = Utf8Stream(open_decompressed(SourceRef(path), _settings()), encoding, max_line)
    return io.BufferedReader(stream).read().decode("utf-8")


def test_cp1252_becomes_utf8_with_curly_apostrophe() -> None:
    text = _read(DUMPS / "telecom_cp1252.csv", "cp1252")
    assert "O’Brien" in text and "Besançon" in text and "Évry" in text


def test_mixed_file_decodes_each_line_right() -> None:
    text = _read(DUMPS / "mixed_encoding.csv", "mixed")
    assert "Lefèvre,Hélène,Besançon" in text
    assert "Müller,Zoé,Sélestat" in text
    assert "Durand,Aïcha,Orléans" in text


def test_bom_is_removed() -> None:
    assert _read(DUMPS / "bom.csv", "utf-8-sig").startswith("nom,")


def test_over_long_line_is_replaced_by_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(b"a,b\n1,2\n" + b"x" * 5000 + b"\n3,4\n" + b"y" * 7000)
    lines = _read(path, "utf-8", max_line=1000).splitlines()
    assert lines == ["a,b", "1,2", f"{TOO_LONG_MARK}5000", "3,4", f"{TOO_LONG_MARK}7000"]


def test_zip_members_are_separate_sources() -> None:
    refs = expand_inputs([DUMPS / "two_parts.zip"], 200)
    assert [r.member for r in refs] == ["part1.csv", "part2.csv"]


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.csv", b"0" * (50 << 20))
    with pytest.raises(InputError, match="zip bomb"):
        expand_inputs([path], 200)


def test_gzip_bomb_stops_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb") as handle:
        for _ in range(100):
            handle.write(b"0" * (1 << 20))
    with pytest.raises(InputError, match="decompression bomb"):
        scan(SourceRef(path), _settings(max_compression_ratio=10))


def test_damaged_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    rows = b"".join(b"%d,%d\n" % (i, i * 7919 % 10007) for i in range(20000))
    path.write_bytes(gzip.compress(rows)[:5000])
    with pytest.raises(InputError, match="damaged compressed data"):
        scan(SourceRef(path), _settings())


def test_gzip_damaged_in_the_middle_is_a_clear_error(tmp_path: Path) -> None:
    """Flipped bytes inside the deflate stream: the inflater's own error (ISA-L's is not a
    zlib.error) becomes the same clear message."""
    path = tmp_path / "flipped.csv.gz"
    rows = b"".join(b"%d,name%d,x\n" % (i, i) for i in range(200000))
    data = bytearray(gzip.compress(rows))
    data[1000:1100] = bytes(b ^ 0xFF for b in data[1000:1100])
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged compressed data"):
        scan(SourceRef(path), _settings())


@pytest.mark.parametrize("name", ["missing.csv", ""])
def test_missing_or_directory_input(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file|is a directory"):
        expand_inputs([tmp_path / name], 200)


def test_binary_garbage_and_empty_are_refused() -> None:
    with pytest.raises(InputError, match="binary data"):
        check_text((DUMPS / "garbage.bin").read_bytes(), Location("garbage.bin", 1))
    with pytest.raises(InputError, match="empty file"):
        check_text(b"", Location("empty.csv", 1))
