"""The art. 33 notification as a PDF (ReportLab), laid out from the report dict.

Every value that comes from data (breach and file names, column names, category values,
settings) is escaped before it reaches a ReportLab paragraph, which would otherwise read it as
markup. Text is set in DejaVu Sans, shipped with matplotlib: full Unicode, embedded.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from matplotlib import get_data_path
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    HRFlowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from breachwatch.report.texts import Texts

FONT, BOLD = "BreachwatchSans", "BreachwatchSans-Bold"
MARGIN = 2 * cm
TEXT_WIDTH = A4[0] - 2 * MARGIN
GRID = colors.HexColor("#999999")
HEADER_BG = colors.HexColor("#e8edf3")


@cache
def _fonts() -> None:
    folder = Path(get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("bw-body", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=12)
    return {
        "title": ParagraphStyle("bw-title", parent=base["Title"], fontName=BOLD, fontSize=16),
        "subtitle": ParagraphStyle("bw-sub", parent=body, fontSize=11, alignment=1),
        "h1": ParagraphStyle("bw-h1", parent=base["Heading2"], fontName=BOLD, fontSize=12),
        "h2": ParagraphStyle("bw-h2", parent=base["Heading3"], fontName=BOLD, fontSize=10),
        "body": body,
        "small": ParagraphStyle("bw-small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("bw-cell", parent=body, fontSize=8, leading=10),
        "num": ParagraphStyle("bw-num", parent=body, fontSize=8, leading=10, alignment=TA_RIGHT),
        "draft": ParagraphStyle(
            "bw-draft", parent=body, textColor=colors.HexColor("#b2182b"), alignment=1
        ),
    }


def _p(text: str, style: str = "body", bold: bool = False) -> Paragraph:
    content = escape(text)
    return Paragraph(f"<b>{content}</b>" if bold else content, _styles()[style])


def _table(rows: list[list[Any]], widths: list[float], numeric: tuple[int, ...] = ()) -> Table:
    """First row is the header; str cells become wrapping paragraphs (numbers right-aligned)."""
    cells = [
        [
            _p(str(v), "num" if j in numeric and i else "cell", bold=i == 0)
            if not isinstance(v, Flowable)
            else v
            for j, v in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=[w * TEXT_WIDTH for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _pairs(rows: list[tuple[str, str]]) -> Table:
    table = Table(
        [[_p(k, "cell", bold=True), _p(v, "cell")] for k, v in rows],
        colWidths=[0.35 * TEXT_WIDTH, 0.65 * TEXT_WIDTH],
    )
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    return table


def _image(png: bytes) -> Image:
    width, height = ImageReader(io.BytesIO(png)).getSize()
    shown = TEXT_WIDTH
    return Image(io.BytesIO(png), width=shown, height=shown * height / width)


def _when(value: str | None, t: Texts) -> str:
    return value.replace("T", " ").replace("Z", " UTC") if value else t("unknown")


def write_pdf(report: dict[str, Any], charts: dict[str, bytes], t: Texts, path: Path) -> None:
    story: list[Flowable] = []
    story += _front(report, t)
    story += _controller(report, t)
    story += _nature(report, t)
    story += _timeline(report, t)
    story += _people(report, charts, t)
    story += _data(report, charts, t)
    story += _consequences(report, charts, t)
    story += _measures(report, charts, t)
    story += _statement(report, t)
    controller = report["controller"]
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=t("title"),
        author=controller["name"],
        subject=f"GDPR art. 33 — {report['breach']['name']}",
        creator="breachwatch",
        lang=report["lang"],
    )
    footer = f"{controller['name']} — {report['breach']['name']} — {report['generated_at']}"

    def decorate(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(MARGIN, MARGIN / 2, footer)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, str(document.page))
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)


def _front(report: dict[str, Any], t: Texts) -> list[Flowable]:
    authority = report["controller"]["supervisory_authority"]
    counts, timeline = report["counts"], report["timeline"]
    hours = t.decimal(abs(timeline["hours_left"]))
    deadline = (
        t("deadline_over", hours=hours) if timeline["overdue"] else t("deadline_left", hours=hours)
    )
    summary = [
        (t("c_people"), t.number(counts["affected_people"])),
        (t("c_records"), t.number(counts["records"])),
        (t("t_deadline"), f"{_when(timeline['deadline'], t)} — {deadline}"),
    ]
    return [
        _p(t("title"), "title"),
        _p(t("subtitle", authority=authority), "subtitle"),
        Spacer(1, 6),
        _p(t("draft", generated=_when(report["generated_at"], t)), "draft"),
        Spacer(1, 8),
        _pairs(summary),
    ]


def _controller(report: dict[str, Any], t: Texts) -> list[Flowable]:
    c = report["controller"]
    keys = ("name", "address", "dpo_name", "dpo_contact", "contact_point")
    labels = ("controller_name", "controller_address", "dpo_name", "dpo_contact", "contact_point")
    rows = [(t(label), c[key]) for key, label in zip(keys, labels, strict=True)]
    rows.append((t("authority"), c["supervisory_authority"]))
    return [_p(t("s_controller"), "h1"), _pairs(rows)]


def _nature(report: dict[str, Any], t: Texts) -> list[Flowable]:
    nature, breach = report["nature"], report["breach"]
    story: list[Flowable] = [
        _p(t("s_nature"), "h1"),
        _p(nature["summary"], bold=True),
        _p(nature["description"]),
    ]
    absent = [t.data_class(c) for c in nature["data_classes_not_concerned"]]
    if absent:
        story.append(_p(t("not_concerned", classes=t.enumerate(absent))))
    story.append(_p(t("sensitive_flag", value=t("yes") if breach["sensitive"] else t("no"))))
    if nature["unclassified_columns"]:
        story.append(_p(t("unclassified", columns=", ".join(nature["unclassified_columns"]))))
    header = ["source_file", "source_format", "source_rows", "source_accepted"]
    header += ["source_quarantined", "source_ingested"]
    rows: list[list[Any]] = [[t(h) for h in header]]
    for s in breach["sources"]:
        numbers = [t.number(s[k]) for k in ("rows_read", "rows_accepted", "rows_quarantined")]
        rows.append([s["file"], s["format"], *numbers, _when(s["ingested_at"], t)])
    story += [
        _p(t("sources_heading"), "h2"),
        _table(rows, [0.26, 0.12, 0.14, 0.14, 0.14, 0.20], numeric=(2, 3, 4)),
    ]
    return story


def _timeline(report: dict[str, Any], t: Texts) -> list[Flowable]:
    tl = report["timeline"]
    events = [
        ("t_disclosed", tl["disclosed_on"]),
        ("t_aware", tl["aware_since"]),
        ("t_first_ingest", tl["first_ingested_at"]),
        ("t_last_ingest", tl["last_ingested_at"]),
        ("t_linked", tl["linked_at"]),
        ("t_selfcheck", tl["self_check_ready_at"]),
        ("t_report", tl["report_at"]),
        ("t_deadline", tl["deadline"]),
    ]
    rows: list[list[Any]] = [[t("event"), t("when")]]
    rows += [[t(key), _when(value, t)] for key, value in events if value]
    hours = t.decimal(abs(tl["hours_left"]))
    note = t("deadline_over", hours=hours) if tl["overdue"] else t("deadline_left", hours=hours)
    return [
        _p(t("s_timeline"), "h1"),
        _table(rows, [0.65, 0.35]),
        Spacer(1, 4),
        _p(note, bold=True),
    ]


def _people(report: dict[str, Any], charts: dict[str, bytes], t: Texts) -> list[Flowable]:
    counts = report["counts"]
    keys = ("rows_read", "records", "quarantined_rows", "matched_records", "unmatched_records")
    labels = ("c_rows_read", "c_records", "c_quarantined", "c_matched", "c_unmatched")
    rows = [(t(label), t.number(counts[key])) for key, label in zip(keys, labels, strict=True)]
    rows.append((t("c_people"), t.number(counts["affected_people"])))
    story: list[Flowable] = [
        _p(t("s_people"), "h1"),
        _p(t("counts_heading"), "h2"),
        _pairs(rows),
        _p(t("counts_note"), "small"),
    ]
    story += _categories(report, t)
    story += [_p(t("departments_heading"), "h2")]
    if "departments" in charts:
        story.append(_image(charts["departments"]))
    story += [_departments_table(report, t), _p(t("departments_note"), "small")]
    return story


def _categories(report: dict[str, Any], t: Texts) -> list[Flowable]:
    people = report["counts"]["affected_people"]
    cats = report["people_categories"]
    rows: list[list[Any]] = [[t("category"), t("people"), t("share")]]
    for c in cats["categories"]:
        rows.append([c["label"], t.number(c["people"]), t.percent(c["people"], people)])
    note = (
        t("categories_source", column=cats["column"], min=cats["min_group"])
        if cats["column"]
        else t("categories_missing")
    )
    return [
        _p(t("categories_heading"), "h2"),
        _table(rows, [0.6, 0.2, 0.2], numeric=(1, 2)),
        _p(note, "small"),
    ]


def _departments_table(report: dict[str, Any], t: Texts) -> Table:
    deps = report["departments"]
    cells = [f"{d['code']} : {t.number(d['people'])}" for d in deps["by_department"]]
    if deps["unknown"]:
        cells.append(f"{t('unknown')} : {t.number(deps['unknown'])}")
    per_row = 8
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)] or [[t("none")]]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    table = Table(
        [[_p(c, "small") for c in row] for row in rows], colWidths=[TEXT_WIDTH / per_row] * per_row
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.2, GRID)]))
    return table


def _data(report: dict[str, Any], charts: dict[str, bytes], t: Texts) -> list[Flowable]:
    header = ["data_class", "records_present", "records_valid", "records_invalid"]
    header += ["people_exposed", "people_new"]
    rows: list[list[Any]] = [[t(h) for h in header]]
    for d in report["data_categories"]:
        keys = ("records_present", "records_valid", "records_invalid")
        numbers = [t.number(d[k]) for k in (*keys, "people", "people_first_exposed")]
        rows.append([d["label"], *numbers])
    story: list[Flowable] = [
        _p(t("s_data"), "h1"),
        _table(rows, [0.24, 0.19, 0.12, 0.12, 0.13, 0.20], numeric=(1, 2, 3, 4, 5)),
        _p(t("data_note"), "small"),
    ]
    if "exposure_by_class" in charts:
        story.append(KeepTogether([Spacer(1, 6), _image(charts["exposure_by_class"])]))
    return story


def _consequences(report: dict[str, Any], charts: dict[str, bytes], t: Texts) -> list[Flowable]:
    c = report["consequences"]
    people = report["counts"]["affected_people"]
    levels: list[list[Any]] = [[t("level"), t("people"), t("share")]]
    for level, n in c["people_by_highest_level"].items():
        levels.append([t.level(level), t.number(n), t.percent(n, people)])
    risks: list[list[Any]] = [[t("risk"), t("level"), t("people"), t("advice")]]
    for r in c["risks"]:
        risks.append([r["name"], t.level(r["level"]), t.number(r["people"]), r["advice"]])
    story: list[Flowable] = [
        _p(t("s_consequences"), "h1"),
        _p(t("consequences_intro")),
        _p(t("highest_level"), "h2"),
        _table(levels, [0.5, 0.25, 0.25], numeric=(1, 2)),
        Spacer(1, 6),
        _table(risks, [0.2, 0.1, 0.13, 0.57], numeric=(2,)),
    ]
    if "risk_distribution" in charts:
        story.append(KeepTogether([Spacer(1, 6), _image(charts["risk_distribution"])]))
    return story


def _measures(report: dict[str, Any], charts: dict[str, bytes], t: Texts) -> list[Flowable]:
    m = report["measures"]
    items = [
        t("m_linkage", people=t.number(m["linkage"]["people"]), when=_when(m["linkage"]["at"], t))
    ]
    check = m["self_check"]
    if check:
        people = t.number(check["people"]) if check["people"] is not None else t("unknown")
        items.append(
            t("m_selfcheck_on", url=check["url"], people=people, when=_when(check["built_at"], t))
        )
    else:
        items.append(t("m_selfcheck_off"))
    items.append(t("m_phishing"))
    waves = m["phishing"]["waves"]
    items.append(
        t("m_waves", waves=t.number(waves["waves"]), reports=t.number(waves["reports"]))
        if waves
        else t("m_no_waves")
    )
    story: list[Flowable] = [_p(t("s_measures"), "h1"), _bullets(items)]
    story += [_p(t("m_campaign"), "h2"), *_campaign(m["campaign"], charts, t)]
    return story


def _campaign(
    campaign: dict[str, Any] | None, charts: dict[str, bytes], t: Texts
) -> list[Flowable]:
    if not campaign:
        return [_p(t("no_campaign"), bold=True)]
    names = ", ".join(c["name"] for c in campaign["campaigns"]) or "—"
    status = ", ".join(t.status(c["status"]) for c in campaign["campaigns"]) or "—"
    line = t(
        "campaign_line",
        name=names,
        status=status,
        people=t.number(campaign["people"]),
        done=t.number(campaign["informed"]),
        share=t.percent(campaign["informed"], campaign["people"]),
        pending=t.number(campaign["pending"]),
        failed=t.number(campaign["failed"]),
    )
    rows: list[list[Any]] = [[t("campaign_status"), t("people")]]
    rows += [[t.status(s), t.number(n)] for s, n in campaign["by_status"].items()]
    story: list[Flowable] = [_p(line), _table(rows, [0.5, 0.25], numeric=(1,))]
    if "campaign_progress" in charts:
        story.append(_image(charts["campaign_progress"]))
    return story


def _bullets(items: list[str]) -> ListFlowable:
    return ListFlowable(
        [ListItem(_p(item), leftIndent=12) for item in items],
        bulletType="bullet",
        bulletFontName=FONT,
        start="•",
        leftIndent=12,
    )


def _statement(report: dict[str, Any], t: Texts) -> list[Flowable]:
    s = report["statement"]
    inner: list[Flowable] = [_p(s["title"], "h2")]
    inner += [_p(text) for text in s["paragraphs"]]
    if s["advice"]:
        inner.append(KeepTogether([_p(t("st_advice_intro"), bold=True), _bullets(s["advice"])]))
    inner.append(_p(s["contact"]))
    # Rules, not a boxed table: a table cell cannot break across pages, the statement can.
    rule = HRFlowable(width="100%", thickness=0.8, color=colors.HexColor("#2166ac"))
    return [PageBreak(), _p(t("s_statement"), "h1"), rule, *inner, rule]
