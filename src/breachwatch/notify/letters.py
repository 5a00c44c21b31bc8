"""Letters: PDF batches for a print house, with a manifest CSV.

Each batch is one PDF (A4, the address where a DL window envelope shows it) and one row per
letter in ``manifest.csv``: file, first page, page count, reference, name and address lines — the
print house needs them to fold, insert and post. The manifest holds personal data: it is written
0600 beside the PDFs and spreadsheet formulas are neutralised. Printed letters become ``sent``
(detail: their batch file), so running the command again prints only new letters (fallbacks from
failed e-mails and SMS, for instance).

ReportLab (pure Python, no system library) with its built-in Helvetica: Latin-1 covers French
and English names; a character outside it prints as a box — send such people e-mail.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer

from breachwatch.errors import UsageError
from breachwatch.export import neutralise_cell
from breachwatch.notify import campaign as campaigns
from breachwatch.notify.codes import issue_code
from breachwatch.notify.keys import load_keys, row_aad
from breachwatch.notify.outbox import open_outbox
from breachwatch.notify.review import composer_for
from breachwatch.notify.worker import reference

MANIFEST_FIELDS = [
    "file", "first_page", "pages", "reference", "language",
    "name", "address", "postal_code", "city",
]  # fmt: skip


@dataclass
class LetterSummary:
    campaign: str
    letters: int = 0
    files: list[str] = field(default_factory=list)
    manifest: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "letters": self.letters,
            "files": self.files,
            "manifest": self.manifest,
        }


class _PageMark(Flowable):
    """Zero-size flowable that notes the page a letter starts on."""

    def __init__(self, pages: list[int]) -> None:
        super().__init__()
        self.pages = pages

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.pages.append(self.canv.getPageNumber())


def print_letters(
    settings: dict[str, Any], name: str, out_dir: Path, batch_size: int = 500
) -> LetterSummary:
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    info = campaigns.get_campaign(settings, name)
    if info.status not in ("approved", "running", "paused", "done"):
        raise UsageError(f"campaign {name!r} is {info.status}: letters are printed once approved")
    keys = load_keys(settings)
    composer = composer_for(settings, info)
    styles = _styles()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = LetterSummary(name, manifest=str(out_dir / "manifest.csv"))
    outbox = open_outbox(settings)
    try:
        number = len(list(out_dir.glob("letters-*.pdf")))
        while batch := outbox.queued_letters(info.id, batch_size):
            number += 1
            pdf = out_dir / f"letters-{number:05d}.pdf"
            rows = []
            flowables: list[Flowable] = []
            starts: list[int] = []
            for person, sealed in batch:
                data = json.loads(keys.sealer().open(sealed, row_aad(info.id, person)))
                code = issue_code(keys, info.id, person)
                letter = composer.render("letter", data, code)
                if flowables:
                    flowables.append(PageBreak())
                flowables += [_PageMark(starts), *_letter(data, letter.text, styles)]
                rows.append((person, data, letter.language))
            doc = SimpleDocTemplate(
                str(pdf), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                topMargin=15 * mm, bottomMargin=15 * mm, title=info.name,
            )  # fmt: skip
            doc.build(flowables)
            total = int(doc.page)
            _append_manifest(out_dir / "manifest.csv", pdf.name, rows, starts, total, info.id)
            outbox.letters_printed(info.id, [p for p, _, _ in rows], f"printed in {pdf.name}")
            summary.letters += len(rows)
            summary.files.append(str(pdf))
    finally:
        outbox.close()
    return summary


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("bw-body", parent=base["BodyText"], fontSize=10, leading=13.5)
    return {
        "body": body,
        "heading": ParagraphStyle("bw-h", parent=body, fontName="Helvetica-Bold", spaceBefore=6),
        "bullet": ParagraphStyle("bw-li", parent=body, leftIndent=4 * mm, bulletIndent=0),
        "address": ParagraphStyle("bw-addr", parent=body, leftIndent=90 * mm, leading=13),
    }


def _letter(data: dict[str, Any], text: str, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    lines = [name, data.get("address"), f"{data.get('postal_code') or ''} {data.get('city') or ''}"]
    address = "<br/>".join(escape(str(x)) for x in lines if x and str(x).strip())
    out: list[Flowable] = [Spacer(1, 30 * mm), Paragraph(address, styles["address"])]
    out += [Spacer(1, 15 * mm), Paragraph(date.today().strftime("%d/%m/%Y"), styles["body"])]
    for block in text.split("\n"):
        if not block.strip():
            continue
        if block.startswith("## "):
            out.append(Paragraph(escape(block[3:]), styles["heading"]))
        elif block.startswith("- "):
            out.append(Paragraph(escape(block[2:]), styles["bullet"], bulletText="•"))
        else:
            out.append(Paragraph(escape(block), styles["body"]))
    return out


def _append_manifest(
    path: Path,
    file: str,
    rows: list[tuple[int, dict[str, Any], str]],
    starts: list[int],
    total_pages: int,
    campaign_id: int,
) -> None:
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(MANIFEST_FIELDS)
        ends = [*starts[1:], total_pages + 1]
        for (person, data, lang), first, end in zip(rows, starts, ends, strict=True):
            name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
            writer.writerow(
                [
                    file,
                    first,
                    end - first,
                    reference(campaign_id, person, "letter"),
                    lang,
                    *(
                        neutralise_cell(v)
                        for v in (
                            name,
                            data.get("address"),
                            data.get("postal_code"),
                            data.get("city"),
                        )
                    ),
                ]  # fmt: skip
            )
