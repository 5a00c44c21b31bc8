"""How each file is laid out on disk: header, record lines, trailer, encoding, container.

A leak's record id (its ``source_key``) is assigned here, after the shuffle, so that ids rise in
file order as in a real table dump; ids have gaps (deleted rows), as real ones do.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachwatch.synth import text

REGISTRY_COLUMNS = (
    "id_personne", "nom", "prenom", "nom_naissance", "sexe", "date_naissance", "lieu_naissance",
    "nir", "identifiant", "email", "tel_portable", "tel_fixe", "adresse", "code_postal", "ville",
    "categorie", "date_inscription",
)  # fmt: skip

REGISTRY_SQL = """
SELECT concat_ws(',', person_id, csv_field(last_name, ','), csv_field(first_name, ','),
    csv_field(coalesce(birth_name, ''), ','), sex, strftime(birth_date, '%Y-%m-%d'),
    csv_field(birth_place, ','), nir, agency_id, email, mobile_text,
    coalesce(landline_text, ''), csv_field(address, ','), postcode,
    csv_field(city, ','), category, strftime(registered_on, '%Y-%m-%d')) || chr(10) AS line
FROM people
"""

TRUTH_COLUMNS = ("record_no", "source_key", "person_id", "identity_id")


class Sink(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


@dataclass(frozen=True)
class Layout:
    """One leak file. ``lines(keys, bodies, first, total)`` turns bodies into the file's record
    text, ``first`` being the 0-based position of the first body in the file of ``total`` rows."""

    file_name: str
    format: str
    encoding: str
    columns: tuple[str, ...]
    header: str
    lines: Callable[[pa.Array | None, pa.Array, int, int], pa.Array]
    first_key: int | None = None  # None: the leak has no record id of its own
    trailer: str = ""
    describe: dict[str, object] = field(default_factory=dict)


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _tsv_lines(keys: pa.Array | None, body: pa.Array, first: int, total: int) -> pa.Array:
    return _join(body, "\n")


def _telecom_lines(keys: pa.Array | None, body: pa.Array, first: int, total: int) -> pa.Array:
    return _join(keys, ";", body, "\r\n")


def _jsonl_lines(keys: pa.Array | None, body: pa.Array, first: int, total: int) -> pa.Array:
    return _join('{"customer_id":', keys, ",", body, "\n")


def _forum_lines(keys: pa.Array | None, body: pa.Array, first: int, total: int) -> pa.Array:
    return _join('"', keys, '",', body, "\r\n")


_HEALTH_COLUMNS = (
    "id", "nom", "prenom", "nir", "date_naissance", "adresse", "code_postal", "ville",
)  # fmt: skip
_TUPLES_PER_INSERT = 1000
_INSERT = "INSERT INTO `assures` (" + ",".join(f"`{c}`" for c in _HEALTH_COLUMNS) + ") VALUES "
_HEALTH_HEADER = """-- MySQL dump 10.13  Distrib 5.7.42, for Linux (x86_64)
--
-- Host: 10.12.0.31    Database: mutuelle_prod
-- ------------------------------------------------------
-- Server version\t5.7.42-log

/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;

--
-- Table structure for table `assures`
--

DROP TABLE IF EXISTS `assures`;
CREATE TABLE `assures` (
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `nom` varchar(80) NOT NULL,
  `prenom` varchar(80) NOT NULL,
  `nir` varchar(21) DEFAULT NULL,
  `date_naissance` date DEFAULT NULL,
  `adresse` varchar(255) DEFAULT NULL,
  `code_postal` varchar(5) DEFAULT NULL,
  `ville` varchar(80) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_nir` (`nir`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

--
-- Dumping data for table `assures`
--

LOCK TABLES `assures` WRITE;
/*!40000 ALTER TABLE `assures` DISABLE KEYS */;
"""
_HEALTH_TRAILER = """/*!40000 ALTER TABLE `assures` ENABLE KEYS */;
UNLOCK TABLES;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;

-- Dump completed on 2023-09-14  2:17:45
"""


def _sql_lines(keys: pa.Array | None, body: pa.Array, first: int, total: int) -> pa.Array:
    """mysqldump's extended inserts: one INSERT of up to 1000 tuples per line."""
    position = first + np.arange(len(body))
    opens = pc.if_else(pa.array(position % _TUPLES_PER_INSERT == 0), _INSERT, "")
    last = (position % _TUPLES_PER_INSERT == _TUPLES_PER_INSERT - 1) | (position == total - 1)
    closes = pc.if_else(pa.array(last), ";\n", ",")
    return _join(opens, "(", keys, ",", body, ")", closes)


_MAIN_COLUMNS = (
    "lastname", "firstname", "birthname", "ssn", "agency_id", "email", "phone", "phone2",
    "address", "zip", "city", "birthdate", "gender",
)  # fmt: skip
_TELECOM_COLUMNS = (
    "id_client", "NOM", "PRENOM", "TEL", "EMAIL", "ADRESSE", "CP", "VILLE", "DATE_NAISSANCE",
    "OFFRE",
)  # fmt: skip
_RETAIL_KEYS = (
    "customer_id", "first_name", "last_name", "email", "phone", "birth_date", "street",
    "postcode", "town", "loyalty_points",
)  # fmt: skip
_FORUM_COLUMNS = (
    "user_id", "username", "email", "full_name", "city", "birth_year", "ip", "password_md5",
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {
    "main": Layout(
        "leak_agency.tsv.gz",
        "tsv",
        "utf-8",
        _MAIN_COLUMNS,
        "\t".join(_MAIN_COLUMNS) + "\n",
        _tsv_lines,
        describe={
            "separator": "\t",
            "compression": "gzip",
            "line_ending": "\n",
            "header": True,
            "quoting": "none (no value holds a tab or a quote)",
        },
    ),
    "telecom": Layout(
        "leak_telecom.csv",
        "csv",
        "cp1252",
        _TELECOM_COLUMNS,
        ";".join(_TELECOM_COLUMNS) + "\r\n",
        _telecom_lines,
        first_key=100_000,
        describe={
            "separator": ";",
            "compression": None,
            "line_ending": "\r\n",
            "header": True,
            "quoting": "RFC 4180, only when needed",
            "date_format": "DD/MM/YYYY",
        },
    ),
    "retail": Layout(
        "leak_retail.jsonl",
        "jsonl",
        "utf-8",
        _RETAIL_KEYS,
        "",
        _jsonl_lines,
        first_key=1,
        describe={
            "compression": None,
            "line_ending": "\n",
            "header": False,
            "date_format": "mixed: YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD",
            "missing": "absent keys",
        },
    ),
    "health": Layout(
        "leak_health.sql",
        "mysql_dump",
        "utf-8",
        _HEALTH_COLUMNS,
        _HEALTH_HEADER,
        _sql_lines,
        first_key=1,
        trailer=_HEALTH_TRAILER,
        describe={
            "compression": None,
            "table": "assures",
            "tuples_per_insert": _TUPLES_PER_INSERT,
            "escaping": "MySQL: \\' and \\\\ in single-quoted strings, NULL unquoted",
        },
    ),
    "forum": Layout(
        "leak_forum.zip",
        "csv",
        "utf-8-sig",
        _FORUM_COLUMNS,
        "\ufeff" + ",".join(f'"{c}"' for c in _FORUM_COLUMNS) + "\r\n",
        _forum_lines,
        first_key=1,
        describe={
            "separator": ",",
            "compression": "zip",
            "member": "users.csv",
            "line_ending": "\r\n",
            "header": True,
            "quoting": "every field",
            "note": "ip in RFC 6598/5737 ranges; password_md5 unsalted",
        },
    ),
}


@contextmanager
def open_sink(layout: Layout, path: Path) -> Iterator[Sink]:
    """The file as a byte sink in its container, re-encoded if it is not UTF-8."""
    with path.open("wb") as raw:
        if layout.file_name.endswith(".gz"):
            # mtime=0 and no file name in the header: the same bytes on every run. Level 1 is
            # ~4× faster than the default for a file that is only a test input.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz:
                yield gz
        elif layout.file_name.endswith(".zip"):
            with zipfile.ZipFile(raw, "w") as archive:
                info = zipfile.ZipInfo("users.csv", date_time=(2022, 11, 5, 23, 41, 12))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as member:
                    yield member
        elif layout.encoding == "cp1252":
            yield _Recoding(raw, "cp1252")
        else:
            yield raw


class _Recoding:
    """UTF-8 text in, another encoding out (strict: a character cp1252 lacks is a bug)."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._encoding = encoding

    def write(self, data: bytes | memoryview, /) -> int:
        return self._raw.write(bytes(data).decode("utf-8").encode(self._encoding))


def write_text(sink: Sink, lines: pa.Array | pa.ChunkedArray) -> None:
    """Write the strings back to back, straight from the Arrow buffer (no per-row Python)."""
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int32)
        start, end = bounds[chunk.offset], bounds[chunk.offset + len(chunk)]
        sink.write(memoryview(data)[start:end])


def record_keys(rng: np.random.Generator, start: int, n: int) -> np.ndarray:
    """Rising ids with the gaps deleted rows leave (mostly consecutive)."""
    return start + np.cumsum(rng.geometric(0.85, n)) - 1


def truth_lines(
    first: int, keys: pa.Array | None, person_id: pa.Array, identity: np.ndarray
) -> pa.Array:
    n = len(identity)
    record = pc.cast(pa.array(first + 1 + np.arange(n)), pa.string())
    key = keys if keys is not None else pa.repeat("", n)
    ident = text.strings(text.chars("I", n), text.digits(identity, 9))
    return _join(record, ",", key, ",", pc.fill_null(person_id, ""), ",", ident, "\n")
