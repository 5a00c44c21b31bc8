"""The report's charts as PNG bytes (matplotlib's Agg canvas: no display, no pyplot state).

Each chart is drawn from the report dict only, so it shows exactly the numbers of the JSON.
A chart with nothing to show is not drawn (the PDF says why instead): no fake chart.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from breachwatch.report.texts import Texts

DPI = 150
WIDTH = 7.0  # inches: the PDF's text width at A4 with 2 cm margins is ~6.7 in
TOP_DEPARTMENTS = 20
LEVEL_COLOURS = {"high": "#b2182b", "medium": "#ef8a62", "low": "#fddbc7", "none": "#bababa"}
NEW, OLD = "#2166ac", "#92c5de"
STATUS_COLOURS = {
    "delivered": "#1a9850",
    "sent": "#91cf60",
    "sending": "#d9ef8b",
    "queued": "#fee08b",
    "temporary_failure": "#fc8d59",
    "permanent_failure": "#d73027",
    "unreachable": "#7f7f7f",
    "cancelled": "#bababa",
}


def render_charts(report: dict[str, Any], t: Texts) -> dict[str, bytes]:
    """Chart id → PNG; ids are those listed in the JSON's ``charts`` key."""
    drawers: dict[str, Callable[[dict[str, Any], Texts], Figure | None]] = {
        "exposure_by_class": exposure_chart,
        "risk_distribution": risk_chart,
        "departments": departments_chart,
        "campaign_progress": campaign_chart,
    }
    charts = {}
    for name, draw in drawers.items():
        figure = draw(report, t)
        if figure is not None:
            charts[name] = png(figure)
    return charts


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _figure(height: float, columns: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, columns, squeeze=False)[0]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    return figure, list(axes)


def _count_axis(ax: Axes, t: Texts, axis: str = "x") -> None:
    formatter = FuncFormatter(lambda value, _pos: t.number(int(value)))
    if axis == "x":
        ax.xaxis.set_major_formatter(formatter)
        ax.set_xlabel(t("ch_people"), fontsize=8)
    else:
        ax.yaxis.set_major_formatter(formatter)
        ax.set_ylabel(t("ch_people"), fontsize=8)


def exposure_chart(report: dict[str, Any], t: Texts) -> Figure | None:
    rows = [r for r in report["data_categories"] if r["people"]]
    if not rows:
        return None
    rows.sort(key=lambda r: r["people"])
    figure, (ax,) = _figure(0.6 + 0.28 * len(rows))
    labels = [r["label"] for r in rows]
    new = [r["people_first_exposed"] for r in rows]
    old = [r["people"] - r["people_first_exposed"] for r in rows]
    ax.barh(labels, new, color=NEW, label=t("ch_exposure_new"))
    ax.barh(labels, old, left=new, color=OLD, label=t("ch_exposure_old"))
    ax.set_title(t("ch_exposure"), fontsize=10)
    figure.legend(fontsize=7, ncols=2, loc="outside lower center")
    _count_axis(ax, t)
    return figure


def risk_chart(report: dict[str, Any], t: Texts) -> Figure | None:
    consequences = report["consequences"]
    levels = consequences["people_by_highest_level"]
    if not any(levels.values()):
        return None
    figure, (left, right) = _figure(3.0, columns=2)
    names = list(reversed(levels))
    left.barh(
        [t.level(n) for n in names],
        [levels[n] for n in names],
        color=[LEVEL_COLOURS[n] for n in names],
        edgecolor="#444444",
        linewidth=0.5,
    )
    left.set_title(t("ch_risk_levels"), fontsize=10)
    _count_axis(left, t)
    risks = list(reversed(consequences["risks"]))
    right.barh(
        [r["name"] for r in risks],
        [r["people"] for r in risks],
        color=[LEVEL_COLOURS.get(r["level"], "#bababa") for r in risks],
        edgecolor="#444444",
        linewidth=0.5,
    )
    right.set_title(t("ch_risk_names"), fontsize=10)
    _count_axis(right, t)
    return figure


def departments_chart(report: dict[str, Any], t: Texts) -> Figure | None:
    rows = report["departments"]["by_department"][:TOP_DEPARTMENTS]
    if not rows:
        return None
    figure, (ax,) = _figure(3.2)
    ax.bar([r["code"] for r in rows], [r["people"] for r in rows], color=NEW)
    ax.set_title(t("ch_departments", n=len(rows)), fontsize=10)
    ax.tick_params(axis="x", labelrotation=90)
    _count_axis(ax, t, "y")
    return figure


def campaign_chart(report: dict[str, Any], t: Texts) -> Figure | None:
    campaign = report["measures"]["campaign"]
    if not campaign or not campaign["by_status"]:
        return None
    by_status = campaign["by_status"]
    statuses = list(by_status)  # already in the order of measures.STATUS_ORDER
    figure, (ax,) = _figure(1.9)
    left = 0
    for status in statuses:
        count = by_status[status]
        colour = STATUS_COLOURS.get(status, "#555555")
        ax.barh([""], [count], left=left, color=colour, label=t.status(status))
        left += count
    ax.set_title(t("ch_campaign"), fontsize=10)
    figure.legend(fontsize=7, ncols=4, loc="outside lower center")
    _count_axis(ax, t)
    return figure
