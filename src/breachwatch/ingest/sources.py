"""Opening inputs: expansion of .zip archives, decompression with bomb guards, a scan that
fingerprints each input and detects its encoding, and a stream that hands UTF-8 to the parsers.

Everything works chunk by chunk (a few MiB at a time) so a 25 GB dump never sits in memory.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from isal import igzip, isal_zlib

from breachwatch.errors import InputError, Location

CHUNK = 4 * 1024 * 1024
SAMPLE_BYTES = 256 * 1024
# A line longer than the limit is replaced by this marker line, so that the parsers keep their
# numbering and the pipeline can quarantine the record with its line number.
TOO_LONG_MARK = "\x1aBW-LINE-TOO-LONG:"
# Bytes that cp1252 leaves undefined: their presence means latin-1 rather than cp1252.
_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 rejected as cp1252 (latin-1 for cp1252's holes): files that
    were concatenated from exports in different encodings switch encoding mid-file."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="strict") if not _CP1252_HOLES.search(bad) else bad.decode(
        "latin-1"
    ), exc.end


codecs.register_error("breachwatch-cp1252", _cp1252_fallback)


@dataclass(frozen=True)
class SourceRef:
    """One input: a file, or one member of a .zip archive."""

    path: Path
    member: str | None = None

    @property
    def display(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def name(self) -> str:
        return self.member or self.path.name


@dataclass(frozen=True)
class Scan:
    sha256: str
    size: int
    text_bytes: int
    compression: str
    encoding: str
    sample: bytes
    newlines: int


def expand_inputs(paths: list[Path], max_ratio: int) -> list[SourceRef]:
    refs: list[SourceRef] = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file", Location(path))
        if path.is_dir():
            raise InputError("is a directory, not a file", Location(path))
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror}", Location(path)) from None
        refs.extend(_zip_members(path, max_ratio) if _is_plain_zip(path) else [SourceRef(path)])
    return refs


def _is_plain_zip(path: Path) -> bool:
    """A .zip of dumps, as opposed to an .xlsx workbook (also a zip) which a reader handles."""
    if path.suffix.lower() in {".xlsx", ".xlsm"} or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "xl/workbook.xml" not in archive.namelist()


def _zip_members(path: Path, max_ratio: int) -> list[SourceRef]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except zipfile.BadZipFile as exc:
        raise InputError(f"damaged zip archive: {exc}", Location(path)) from None
    for info in infos:
        if info.file_size > max(info.compress_size, 1) * max_ratio and info.file_size > 1 << 20:
            ratio = info.file_size / max(info.compress_size, 1)
            raise InputError(
                f"zip member {info.filename} would expand {ratio:.0f} times "
                f"(limit {max_ratio}): refusing a likely zip bomb",
                Location(path),
            )
    if not infos:
        raise InputError("empty zip archive", Location(path))
    return [SourceRef(path, i.filename) for i in infos]


# What a damaged .gz or .zip raises while it is read (ISA-L's own error included).
_ISAL_ERROR: type[BaseException] = isal_zlib.error  # type: ignore[assignment]  # typed as an instance
_DAMAGED = (OSError, EOFError, zlib.error, _ISAL_ERROR, zipfile.BadZipFile)


class _GuardedReader(io.RawIOBase):
    """Counts decompressed bytes and stops a decompression bomb early."""

    def __init__(self, inner: BinaryIO, ref: SourceRef, compressed: int, ratio: int, cap: int):
        self._inner, self._ref = inner, ref
        self._limit = min(cap, max(compressed * ratio, 64 << 20))
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        except _DAMAGED as exc:
            raise InputError(
                f"damaged compressed data: {exc}", Location(self._ref.display)
            ) from None
        self.total += n or 0
        if self.total > self._limit:
            raise InputError(
                f"expands beyond {self._limit:,} bytes: refusing a likely decompression bomb",
                Location(self._ref.display),
            )
        return n or 0

    def close(self) -> None:
        self._inner.close()
        super().close()


def compression_of(ref: SourceRef) -> str:
    if ref.member is not None:
        return "zip"
    with ref.path.open("rb") as handle:
        magic = handle.read(4)
    return "gzip" if magic[:2] == b"\x1f\x8b" else "none"


def open_decompressed(ref: SourceRef, settings: dict[str, object]) -> BinaryIO:
    ratio = int(settings["max_compression_ratio"])  # type: ignore[call-overload]
    cap = int(settings["max_uncompressed_bytes"])  # type: ignore[call-overload]
    kind = compression_of(ref)
    if kind == "none":
        return ref.path.open("rb")
    if kind == "gzip":
        # ISA-L's gzip: the same format, inflated ~3x faster than zlib (a 10 M-row leak is
        # inflated twice, by the scan and by the parse: decision 0003).
        inner: BinaryIO = igzip.open(ref.path, "rb")  # type: ignore[assignment]  # noqa: SIM115 (returned, closed by the caller)
        size = ref.path.stat().st_size
    else:
        archive = zipfile.ZipFile(ref.path)
        size = archive.getinfo(ref.member or "").compress_size
        inner = archive.open(ref.member or "")  # type: ignore[assignment]
    return io.BufferedReader(_GuardedReader(inner, ref, size, ratio, cap), CHUNK)


def iter_line_chunks(handle: BinaryIO, max_piece: int = CHUNK * 4) -> Iterator[bytes]:
    """Chunks of about CHUNK bytes that end on a newline. A line longer than ``max_piece`` is
    passed on in pieces that do not end on a newline (the stream then drops it)."""
    carry = b""
    while True:
        block = handle.read(CHUNK)
        if not block:
            break
        cut = block.rfind(b"\n")
        if cut < 0:
            carry += block
            if len(carry) >= max_piece:
                yield carry
                carry = b""
            continue
        yield carry + block[: cut + 1]
        carry = block[cut + 1 :]
    if carry:
        yield carry


def scan(ref: SourceRef, settings: dict[str, object]) -> Scan:
    """One pass over the (decompressed) bytes: fingerprint, size, encoding, first bytes. The
    fingerprint is taken on a thread of its own, beside the encoding pass (hashlib lets go of
    the GIL on large blocks): 1.8 of the 5 CPU seconds a 2 GB file's scan takes."""
    with ThreadPoolExecutor(1, thread_name_prefix="bw-sha256") as pool:
        fingerprint = pool.submit(_sha256, ref)
        encoding = _encoding_pass(ref, settings)
        sha256 = fingerprint.result()
    return Scan(
        sha256=sha256, size=ref.path.stat().st_size, compression=compression_of(ref), **encoding
    )


def _sha256(ref: SourceRef) -> str:
    digest = hashlib.sha256()
    with ref.path.open("rb") as raw:
        for block in iter(lambda: raw.read(CHUNK), b""):
            digest.update(block)
    if ref.member:
        digest.update(b"!" + ref.member.encode())
    return digest.hexdigest()


def _encoding_pass(ref: SourceRef, settings: dict[str, object]) -> dict[str, Any]:
    utf8_multi = invalid = holes = newlines = text_bytes = 0
    sample = b""
    with open_decompressed(ref, settings) as handle:
        for chunk in iter_line_chunks(handle):
            if len(sample) < SAMPLE_BYTES:
                sample += chunk[: SAMPLE_BYTES - len(sample)]
            text_bytes += len(chunk)
            newlines += chunk.count(b"\n")
            try:
                decoded = chunk.decode("utf-8")
                utf8_multi += len(decoded) != len(chunk)
            except UnicodeDecodeError:
                invalid += 1
                utf8_multi += _UTF8_MULTIBYTE.search(chunk) is not None
                holes += _CP1252_HOLES.search(chunk) is not None
    return {
        "text_bytes": text_bytes,
        "encoding": _decide_encoding(sample, invalid, utf8_multi, holes),
        "sample": sample,
        "newlines": newlines,
    }


def _decide_encoding(sample: bytes, invalid: int, utf8_multi: int, holes: int) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig" if not invalid else "mixed"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if not invalid:
        return "utf-8"
    if utf8_multi:
        return "mixed"
    return "latin-1" if holes else "cp1252"


def check_text(sample: bytes, where: Location) -> None:
    """Refuse binary garbage early with a clear message instead of quarantining every line."""
    if not sample:
        raise InputError("empty file: nothing to ingest", where)
    probe = sample[:65536]
    nul = probe.count(b"\x00")
    control = sum(probe.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    if nul or control > len(probe) * 0.05:
        raise InputError(
            f"binary data, not a text dump ({nul} NUL and {control} control bytes in the first "
            f"{len(probe):,} bytes)",
            where,
        )


class Utf8Stream(io.RawIOBase):
    """The decompressed input as UTF-8, with over-long lines replaced by a marker line."""

    def __init__(self, handle: BinaryIO, encoding: str, max_line_bytes: int) -> None:
        self._chunks = iter_line_chunks(handle, max(max_line_bytes + 1, CHUNK * 4))
        self._handle = handle
        self._encoding = encoding
        self._max = max_line_bytes
        self._pending = b""
        self._first = True
        self._skipping = 0  # bytes of an over-long line dropped so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                if not self._skipping:
                    return 0
                chunk, self._pending = b"", _mark(self._skipping)
                self._skipping = 0
                continue
            self._pending = self._convert(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()

    def _convert(self, chunk: bytes) -> bytes:
        if self._first:
            self._first = False
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        chunk = self._cut_long_lines(chunk)
        if self._encoding in ("utf-8", "utf-8-sig"):
            return chunk
        if self._encoding == "mixed":
            return chunk.decode("utf-8", errors="breachwatch-cp1252").encode("utf-8")
        return chunk.decode(self._encoding, errors="replace").encode("utf-8")

    def _cut_long_lines(self, chunk: bytes) -> bytes:
        if self._skipping:
            end = chunk.find(b"\n")
            if end < 0:
                self._skipping += len(chunk)
                return b""
            total = self._skipping + end
            self._skipping = 0
            return _mark(total) + self._cut_long_lines(chunk[end + 1 :])
        ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
        starts = np.concatenate(([0], ends + 1))
        lengths = np.append(ends, len(chunk)) - starts
        if not len(lengths) or lengths.max() <= self._max:
            return chunk
        return self._rebuild(chunk, starts, lengths)

    def _rebuild(self, chunk: bytes, starts: np.ndarray, lengths: np.ndarray) -> bytes:
        last = len(lengths) - 1
        out = bytearray()
        cursor = 0
        for i in np.flatnonzero(lengths > self._max):
            start, length = int(starts[i]), int(lengths[i])
            out += chunk[cursor:start]
            if i == last and not chunk.endswith(b"\n"):
                self._skipping = length
                cursor = len(chunk)
                break
            out += _mark(length)
            cursor = start + length + 1
        out += chunk[cursor:]
        return bytes(out)


def _mark(length: int) -> bytes:
    return f"{TOO_LONG_MARK}{length}\n".encode()
