"""Readers of the generated files, written with the standard library only (independent of the
generator's own code), and the size of the shared data set."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

PEOPLE = 6_000
SEED = 11


def read_truth(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_registry(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_main(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_telecom(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("cp1252")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def read_retail(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def read_forum(path: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as archive:
        text = archive.read("users.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))
