"""Chromium for the page tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

``chromium()`` starts the browser; a test module makes it a module-scoped fixture (one browser
for the module, a fresh context per test)::

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Browser]:
        with chromium() as launched:
            yield launched

Without Chromium (or Playwright) it skips, and fails instead under
``BREACHWATCH_REQUIRE_SERVICES=1`` (CI installs Chromium), like ``tests/services.py``.
Playwright's own browser downloads are never used.

Also here: ``new_page`` (a fresh context per test, 1000×800, in a language), the WCAG 2.x
contrast ratio, the colours of every piece of text on a page, and ``save_screenshot`` for
``docs/screenshots/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Locator, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1000, "height": 800}
LOCALES = {"fr": "fr-FR", "en": "en-GB"}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

# WCAG 2.x: 4.5:1 for text, 3:1 for large text (≥ 18 pt, or ≥ 14 pt bold) and for the visual
# cues of a control's state such as the focus ring (SC 1.4.3, 1.4.11).
TEXT_CONTRAST = 4.5
LARGE_TEXT_CONTRAST = 3.0
UI_CONTRAST = 3.0
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66  # 18 pt and 14 pt at 96 px per inch


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (Debian package 'chromium')"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (dev extra)"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    reason = _unavailable()
    if reason:
        if os.environ.get("BREACHWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required browser missing: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def new_page(browser: Browser, lang: str = "fr", **options: Any) -> Iterator[Page]:
    """A page in a fresh context (no cookies, no cache) with the browser's UI in ``lang``, so
    that e.g. a date field shows its parts in that language's order."""
    context = browser.new_context(viewport=VIEWPORT, locale=LOCALES[lang], **options)
    try:
        yield context.new_page()
    finally:
        context.close()


def record_dialogs(page: Page) -> list[str]:
    """Dismisses every alert/confirm/prompt the page opens and keeps its message: a test
    asserts the list is empty to prove no injected script ran."""
    opened: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def save_screenshot(page: Page, name: str) -> Path:
    """``docs/screenshots/<name>.png`` of the viewport; rewritten only when the pixels changed,
    so that a test run leaves the checkout clean."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    png = page.screenshot(animations="disabled", caret="hide")
    if not path.exists() or path.read_bytes() != png:
        path.write_bytes(png)
    return path


# -- contrast ------------------------------------------------------------------------------

RGB = tuple[float, float, float]


def parse_colour(css: str) -> tuple[RGB, float]:
    """(r, g, b) in 0..255 and alpha, from a computed ``rgb()``/``rgba()`` value."""
    found = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    if not found:
        raise ValueError(f"unexpected computed colour {css!r}")
    r, g, b, a = found.groups()
    return (float(r), float(g), float(b)), float(a) if a is not None else 1.0


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2.x relative luminance: linearise each sRGB channel, then weight by the eye's
    sensitivity (ITU-R BT.709 primaries)."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """(L1 + 0.05) / (L2 + 0.05), lighter over darker: 1 (none) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def css_contrast(foreground: str, background: str) -> float:
    """The contrast ratio of two computed colours (the foreground must be opaque)."""
    (fg, alpha), (bg, _) = parse_colour(foreground), parse_colour(background)
    assert alpha == 1, f"translucent foreground {foreground}"
    return contrast_ratio(fg, bg)


@dataclass(frozen=True)
class TextColour:
    """One element with text of its own, its colour and the opaque background behind it."""

    where: str
    text: str
    colour: str
    background: str
    font_px: float
    weight: int

    @property
    def ratio(self) -> float:
        return css_contrast(self.colour, self.background)

    @property
    def required(self) -> float:
        large = self.font_px >= LARGE_PX or (self.font_px >= LARGE_BOLD_PX and self.weight >= 700)
        return LARGE_TEXT_CONTRAST if large else TEXT_CONTRAST


# The first opaque background at or above an element (white when none is set).
_BACKGROUND_JS = """
el => {
  for (let e = el; e; e = e.parentElement) {
    const bg = getComputedStyle(e).backgroundColor;
    if (!/rgba\\(.*,\\s*0\\)$/.test(bg) && bg !== 'transparent') return bg;
  }
  return 'rgb(255, 255, 255)';
}
"""

_TEXTS_JS = f"""
() => {{
  const background = {_BACKGROUND_JS};
  const out = [];
  for (const el of [document.body, ...document.body.querySelectorAll('*')]) {{
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join('').trim();
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.right < 0 || box.bottom < 0) continue;
    const s = getComputedStyle(el);
    out.push({{where: el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''),
      text: own.slice(0, 40), colour: s.color, background: background(el),
      font_px: parseFloat(s.fontSize), weight: parseInt(s.fontWeight, 10)}});
  }}
  return out;
}}
"""


def text_colours(page: Page) -> list[TextColour]:
    """Every visible element with text of its own (off-screen ones, such as a skip link
    waiting for focus, are left out: check them when focused)."""
    return [TextColour(**item) for item in page.evaluate(_TEXTS_JS)]


@dataclass(frozen=True)
class FocusRing:
    """The outline of the focused element and the background around it."""

    where: str
    width_px: float
    colour: str
    around: str

    @property
    def ratio(self) -> float:
        return css_contrast(self.colour, self.around)


_FOCUS_JS = f"""
() => {{
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  return {{where: el.id || el.textContent.trim(), width_px: parseFloat(s.outlineWidth) || 0,
    colour: s.outlineColor, around: ({_BACKGROUND_JS})(el.parentElement)}};
}}
"""


def focus_ring(page: Page) -> FocusRing | None:
    """The focused element's ring, or None when nothing in the page has the focus."""
    found = page.evaluate(_FOCUS_JS)
    return FocusRing(**found) if found else None


def computed(locator: Locator, prop: str) -> str:
    """A computed style of the element, by its CSS name (``outline-color``)."""
    return str(locator.evaluate("(el, p) => getComputedStyle(el).getPropertyValue(p)", prop))


def background_behind(locator: Locator) -> str:
    """The opaque background the element's own content is drawn on."""
    return str(locator.evaluate(_BACKGROUND_JS))


def background_around(locator: Locator) -> str:
    """The opaque background around the element (where an offset focus ring is drawn)."""
    return str(locator.evaluate(f"el => ({_BACKGROUND_JS})(el.parentElement)"))
