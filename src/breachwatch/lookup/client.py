"""The partner side of the private check: blind locally, unblind, match against buckets.

A bank or telecom runs this over its customer file. The server sees blinded elements (uniformly
random group elements) and a short bucket prefix per identifier, never an identifier; the
partner learns which of its identifiers are in the index, and for the rest only truncated
OPRF outputs of strangers in the same buckets, which it cannot invert without the server key.
"""

from __future__ import annotations

import base64
import csv
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from breachwatch.errors import InputError, Location, UsageError
from breachwatch.export import neutralise_cell
from breachwatch.lookup import oprf
from breachwatch.lookup.identifiers import (
    Identifier,
    bucket,
    email_identifier,
    nir_identifier,
    phone_identifier,
)

Progress = Callable[[str, int, int], None]

# Column names recognised in a customer file (lower case, accents kept out).
EMAIL_COLUMNS = {"email", "e-mail", "mail", "courriel", "email_address", "adresse_email"}
PHONE_COLUMNS = {"phone", "mobile", "telephone", "tel", "phone_number", "portable", "msisdn"}
NIR_COLUMNS = {"nir", "ssn", "numero_securite_sociale", "social_security_number", "insee"}
BIRTH_COLUMNS = {"date_of_birth", "birth_date", "dob", "date_naissance", "naissance"}


class PartnerClient:
    def __init__(
        self,
        server: str,
        api_key: str,
        *,
        breach: str | None = None,
        batch: int | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.http = httpx.Client(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )
        self.bytes_sent = 0
        self.bytes_received = 0
        config = self._call("GET", "/api/v1/oprf/config")
        breaches = {b["name"]: b for b in config["breaches"]}
        if breach is None:
            if len(breaches) != 1:
                raise UsageError(f"name the breach with --breach: one of {sorted(breaches)}")
            breach = next(iter(breaches))
        if breach not in breaches:
            raise UsageError(f"the server has no index for breach {breach!r}: {sorted(breaches)}")
        self.breach = breach
        self.key_id = str(config["key_id"])
        self.prefix_bits = int(breaches[breach]["prefix_bits"])
        self.tag_bytes = int(config["tag_bytes"])
        self.batch = min(batch or int(config["max_batch"]), int(config["max_batch"]))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        for attempt in range(5):
            try:
                response = self.http.request(method, path, json=body)
            except httpx.HTTPError as exc:
                raise UsageError(f"cannot reach the server: {exc}") from None
            self.bytes_sent += len(response.request.content or b"") + 200
            self.bytes_received += len(response.content)
            if response.status_code == 429 and attempt < 4:
                wait = float(response.headers.get("Retry-After", "1"))
                if wait > 60:
                    break
                time.sleep(wait)
                continue
            break
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise UsageError(f"server answered {response.status_code}: {detail}")
        return response.json()

    def check(self, identifiers: Sequence[Identifier]) -> list[bool]:
        """For each identifier, whether it is in the breach's index."""
        found: list[bool] = []
        for start in range(0, len(identifiers), self.batch):
            found.extend(self._check_batch(identifiers[start : start + self.batch]))
        return found

    def _check_batch(self, identifiers: Sequence[Identifier]) -> list[bool]:
        # Shuffled, so that the server cannot pair the e-mail and the phone of one customer
        # from their positions in the request (docs/privacy.md).
        order = list(range(len(identifiers)))
        secrets.SystemRandom().shuffle(order)
        shuffled = self._check_shuffled([identifiers[i].data for i in order])
        found = [False] * len(order)
        for position, index in enumerate(order):
            found[index] = shuffled[position]
        return found

    def _check_shuffled(self, data: list[bytes]) -> list[bool]:
        blinds, elements = zip(*(oprf.blind(d) for d in data), strict=True)
        prefixes = [bucket(d, self.prefix_bits) for d in data]
        answer = self._call(
            "POST",
            "/api/v1/oprf/evaluate",
            {
                "breach": self.breach,
                "elements": [base64.b64encode(e).decode() for e in elements],
                "prefixes": prefixes,
            },
        )
        if answer["key_id"] != self.key_id:
            raise UsageError("the server's key changed during the check: run it again")
        buckets = {
            int(p): {base64.b64decode(t) for t in tags} for p, tags in answer["buckets"].items()
        }
        results = []
        for d, r, evaluated, prefix in zip(
            data, blinds, answer["evaluated"], prefixes, strict=True
        ):
            output = oprf.finalize(d, r, base64.b64decode(evaluated))
            results.append(output[: self.tag_bytes] in buckets.get(prefix, set()))
        return results

    def close(self) -> None:
        self.http.close()


# -- customer files --------------------------------------------------------------------------


@dataclass
class Candidate:
    line: int
    column: str
    value: str
    identifier: Identifier


@dataclass
class CustomerFile:
    rows: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # line, column, reason
    empty: int = 0


def read_customers(path: Path, region: str = "FR") -> CustomerFile:
    """Identifiers of a CSV customer file (header row names the columns)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    out = CustomerFile()
    with handle:
        sample = handle.read(65536)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise InputError("the file is empty", Location(str(path), 1)) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"unreadable header: {exc}", Location(str(path), 1)) from None
        columns = _columns(header, path)
        try:
            for number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                out.rows += 1
                _row_identifiers(out, number, row, header, columns, region)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(
                f"unreadable row: {exc}", Location(str(path), reader.line_num)
            ) from None
    return out


def _columns(header: list[str], path: Path) -> dict[str, list[int]]:
    cols: dict[str, list[int]] = {"email": [], "phone": [], "nir": [], "birth": []}
    for i, name in enumerate(header):
        for kind, names in (
            ("email", EMAIL_COLUMNS),
            ("phone", PHONE_COLUMNS),
            ("nir", NIR_COLUMNS),
            ("birth", BIRTH_COLUMNS),
        ):
            if name in names:
                cols[kind].append(i)
    if not (cols["email"] or cols["phone"] or cols["nir"]):
        raise InputError(
            f"no identifier column: expected one of email/phone/nir (with date_of_birth), "
            f"found {header}",
            Location(str(path), 1),
        )
    if cols["nir"] and not cols["birth"]:
        raise InputError(
            "a nir column needs a date_of_birth column as well", Location(str(path), 1)
        )
    return cols


def _row_identifiers(
    out: CustomerFile,
    line: int,
    row: list[str],
    header: list[str],
    cols: dict[str, list[int]],
    region: str,
) -> None:
    def cell(i: int) -> str:
        return row[i].strip() if i < len(row) else ""

    found = 0
    for kind, make in (
        ("email", email_identifier),
        ("phone", lambda v: phone_identifier(v, region)),
    ):
        for i in cols[kind]:
            value = cell(i)
            if not value:
                continue
            ident = make(value)
            if ident is None:
                out.invalid.append((line, header[i], f"not a valid {kind}"))
            else:
                out.candidates.append(Candidate(line, header[i], value, ident))
                found += 1
    for i in cols["nir"]:
        value = cell(i)
        if not value:
            continue
        ident = nir_identifier(value, cell(cols["birth"][0]))
        if ident is None:
            out.invalid.append((line, header[i], "not a valid nir with date_of_birth"))
        else:
            out.candidates.append(Candidate(line, header[i], value, ident))
            found += 1
    if not found:
        out.empty += 1


@dataclass
class PartnerCheckReport:
    rows: int
    identifiers: int
    invalid: int
    rows_without_identifier: int
    matched_identifiers: int
    matched_rows: int
    seconds: float
    bytes_sent: int
    bytes_received: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def partner_check(
    path: Path,
    out: Path,
    server: str,
    api_key: str,
    *,
    breach: str | None = None,
    region: str = "FR",
    progress: Progress | None = None,
) -> PartnerCheckReport:
    started = time.perf_counter()
    customers = read_customers(path, region)
    client = PartnerClient(server, api_key, breach=breach)
    report = progress or (lambda label, done, total: None)
    try:
        flags: list[bool] = []
        total = len(customers.candidates)
        for chunk in _chunks(customers.candidates, client.batch):
            flags.extend(client.check([c.identifier for c in chunk]))
            report("check", len(flags), total)
    finally:
        client.close()
    matched = [c for c, hit in zip(customers.candidates, flags, strict=True) if hit]
    try:
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["line", "column", "kind", "value", "breach"])
            for c in matched:
                writer.writerow(
                    [
                        c.line,
                        c.column,
                        c.identifier.kind.value,
                        neutralise_cell(c.value),
                        client.breach,
                    ]
                )
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc.strerror}") from None
    return PartnerCheckReport(
        rows=customers.rows,
        identifiers=len(customers.candidates),
        invalid=len(customers.invalid),
        rows_without_identifier=customers.empty,
        matched_identifiers=len(matched),
        matched_rows=len({c.line for c in matched}),
        seconds=round(time.perf_counter() - started, 2),
        bytes_sent=client.bytes_sent,
        bytes_received=client.bytes_received,
    )


def _chunks(items: list[Candidate], size: int) -> Iterator[list[Candidate]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
