"""The self-check page in a real Chromium against a real ``breachwatch serve`` process and a
real SMTP server, in French and English: keyboard-only flow, identical confirmation for members
and non-members, the e-mail in the page's language, NIR with date of birth, announced errors,
accessibility basics, no JavaScript needed, no XSS. The in-process tests
(test_selfcheck.py) cover status codes, headers, limits and timing.

Writes the README's screenshots to ``docs/screenshots/selfcheck-*.png``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from breachwatch.types import DATA_CLASS_LABELS, DataClass
from breachwatch.web.i18n import PAGE
from tests.browser import (
    TEXT_CONTRAST,
    UI_CONTRAST,
    FocusRing,
    background_behind,
    chromium,
    computed,
    css_contrast,
    focus_ring,
    new_page,
    record_dialogs,
    save_screenshot,
    text_colours,
)
from tests.conftest import _isolate
from tests.lookup.conftest import Indexed
from tests.lookup.live import live_server
from tests.notify.servers import SmtpServer

LANGS = ["fr", "en"]
MAIL_WAIT = 15.0
# What the e-mail says, per language (breachwatch.lookup.answer): the expected text, as data.
MAIL = {
    "fr": {
        "subject": "Résultat de votre vérification",
        "leaked": "Ce qui a fuité pour vous :",
        "not_found": "Nous n'avons trouvé aucune donnée",
    },
    "en": {
        "subject": "Your check result",
        "leaked": "What leaked about you:",
        "not_found": "We found no data",
    },
}
XSS_CONTACT = "<script>alert(1)</script>@example.org"
XSS_NIR = '"><img src=x onerror=alert(1)>'


@dataclass
class Site:
    url: str
    smtp: SmtpServer
    indexed: Indexed

    def form(self, lang: str) -> str:
        return f"{self.url}/?lang={lang}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def site(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    smtp = SmtpServer()
    smtp.start()
    env = {
        "BREACHWATCH_SMTP_HOST": smtp.host,
        "BREACHWATCH_SMTP_PORT": str(smtp.port),
        "BREACHWATCH_SELFCHECK_LIMIT_IP": "1000/minute",
    }
    try:
        with pytest.MonkeyPatch.context() as isolated:
            _isolate(isolated, tmp_path_factory.mktemp("config"))
            with live_server(indexed.home, env) as url:
                yield Site(url, smtp, indexed)
    finally:
        smtp.stop()


# -- helpers -------------------------------------------------------------------------------


def _people(site: Site, affected: bool) -> Iterator[dict[str, str]]:
    """Registry people with an e-mail, in or out of the breach. Each test takes its own slice:
    an identifier may be checked only 3 times a day."""
    for row in site.indexed.registry:
        if row["email"] and (row["id_personne"] in site.indexed.affected) == affected:
            yield row


def _person(site: Site, affected: bool, nth: int) -> dict[str, str]:
    return list(_people(site, affected))[nth]


def _stranger(lang: str) -> str:
    return f"nobody.{lang}.{uuid.uuid4().hex[:8]}@example.org"


def _wait_for_mail(smtp: SmtpServer, to: str) -> EmailMessage:
    deadline = time.monotonic() + MAIL_WAIT
    while time.monotonic() < deadline:
        for mail in smtp.received:
            if to.lower() in (r.lower() for r in mail.rcpt_tos):
                return mail.message
        time.sleep(0.05)
    raise AssertionError(f"no e-mail to {to} within {MAIL_WAIT:.0f} s")


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def _leaked_classes(text: str, lang: str) -> list[str]:
    line = next(li for li in text.splitlines() if li.startswith(MAIL[lang]["leaked"]))
    return [c.strip() for c in line.removeprefix(MAIL[lang]["leaked"]).rstrip(".").split(",")]


def _labels(lang: str) -> set[str]:
    return {fr if lang == "fr" else en for fr, en in DATA_CLASS_LABELS.values()}


def _tab_to(page: Page, target: Locator, limit: int = 15) -> int:
    """Presses Tab until ``target`` has the focus; returns how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return presses
    raise AssertionError(f"{target} not reached with {limit} presses of Tab")


def _check_by_keyboard(page: Page, lang: str, contact: str, via_button: bool) -> None:
    """Fills the contact field and sends the form with the keyboard only."""
    _tab_to(page, page.locator("#contact"))
    page.keyboard.type(contact)
    if via_button:
        _tab_to(page, page.get_by_role("button", name=PAGE[lang]["submit"]))
    with page.expect_response(lambda r: r.url.endswith("/check")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200


def _confirmation(page: Page, lang: str) -> str:
    expect(page.locator("h1")).to_have_text(PAGE[lang]["sent_title"])
    expect(page.get_by_role("status")).to_have_text(PAGE[lang]["sent"])
    return page.locator("main").inner_text()


def _submit(page: Page, lang: str, status: int) -> None:
    with page.expect_response(lambda r: r.url.endswith("/check")) as answer:
        page.get_by_role("button", name=PAGE[lang]["submit"]).click()
    assert answer.value.status == status


# -- the flow ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_keyboard_flow_same_page_for_member_and_stranger(
    browser: Browser, site: Site, lang: str
) -> None:
    member = _person(site, affected=True, nth=LANGS.index(lang))["email"]
    stranger = _stranger(lang)
    with new_page(browser, lang) as page:
        page.goto(site.form(lang))
        save_screenshot(page, f"selfcheck-form-{lang}")
        # French: Enter in the field; English: Tab on to the button, then Enter.
        _check_by_keyboard(page, lang, member, via_button=lang == "en")
        seen_by_member = _confirmation(page, lang)
        save_screenshot(page, f"selfcheck-confirmation-{lang}")
        page.goto(site.form(lang))
        _check_by_keyboard(page, lang, stranger, via_button=lang == "en")
        assert _confirmation(page, lang) == seen_by_member
        assert member not in seen_by_member and stranger not in page.content()

    found = _wait_for_mail(site.smtp, member)
    assert MAIL[lang]["subject"] in str(found["subject"])
    classes = _leaked_classes(_text(found), lang)
    assert classes and set(classes) <= _labels(lang), classes
    assert DATA_CLASS_LABELS[DataClass.EMAIL][LANGS.index(lang)] in classes
    missing = _wait_for_mail(site.smtp, stranger)
    assert MAIL[lang]["subject"] in str(missing["subject"])
    assert MAIL[lang]["not_found"] in _text(missing)


@pytest.mark.parametrize("lang", LANGS)
def test_nir_with_birth_date_mails_the_registry_address(
    browser: Browser, site: Site, lang: str
) -> None:
    person = _person(site, affected=True, nth=10 + LANGS.index(lang))
    born = person["date_naissance"]  # ISO
    with new_page(browser, lang) as page:
        page.goto(site.form(lang))
        page.get_by_label(PAGE[lang]["nir"]).fill(person["nir"])
        birth = page.get_by_label(PAGE[lang]["birth_date"])
        # Chromium's date field shows its parts in the browser's UI locale order (not the
        # page's, nor the context's): fill() sets it from the ISO form, whatever that order.
        birth.fill(born)
        expect(birth).to_have_value(born)
        _submit(page, lang, 200)
        _confirmation(page, lang)
    mail = _wait_for_mail(site.smtp, person["email"])
    assert MAIL[lang]["subject"] in str(mail["subject"])
    assert DATA_CLASS_LABELS[DataClass.NIR][LANGS.index(lang)] in _leaked_classes(_text(mail), lang)


@pytest.mark.parametrize("lang", LANGS)
def test_invalid_email_is_announced_on_the_form(browser: Browser, site: Site, lang: str) -> None:
    with new_page(browser, lang) as page:
        page.goto(site.form(lang))
        page.get_by_label(PAGE[lang]["contact"]).fill("not-an-address@")
        _submit(page, lang, 400)
        expect(page.get_by_role("alert")).to_have_text(PAGE[lang]["err_bad_email"])
        contact = page.locator("#contact")
        expect(contact).to_have_attribute("aria-invalid", "true")
        # Heard again on the field itself, after its hint.
        expect(contact).to_have_accessible_description(
            f"{PAGE[lang]['contact_hint_email']} {PAGE[lang]['err_bad_email']}"
        )
        for other in ("#nir", "#birth_date"):
            expect(page.locator(other)).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator("h1")).to_have_text(PAGE[lang]["title"])
        expect(page.get_by_role("button", name=PAGE[lang]["submit"])).to_be_visible()
        save_screenshot(page, f"selfcheck-error-{lang}")


@pytest.mark.parametrize("lang", LANGS)
def test_flow_works_with_javascript_disabled(browser: Browser, site: Site, lang: str) -> None:
    person = _person(site, affected=True, nth=20 + LANGS.index(lang))
    with new_page(browser, lang, java_script_enabled=False) as page:
        page.goto(site.form(lang))
        assert page.locator("script").count() == 0
        page.get_by_label(PAGE[lang]["contact"]).fill(person["email"])
        _submit(page, lang, 200)
        _confirmation(page, lang)
    assert MAIL[lang]["subject"] in str(_wait_for_mail(site.smtp, person["email"])["subject"])


# -- accessibility -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_language_labels_and_skip_link(browser: Browser, site: Site, lang: str) -> None:
    t = PAGE[lang]
    with new_page(browser, lang) as page:
        page.goto(site.form(lang))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        for field in ("contact", "nir", "birth_date"):
            labelled = page.get_by_label(t[field])
            expect(labelled).to_have_id(field)
            expect(labelled).to_have_accessible_name(t[field])  # the hint is not in the name
        expect(page.locator("#contact")).to_have_accessible_description(t["contact_hint_email"])
        expect(page.locator("#nir")).to_have_accessible_description(t["nir_hint"])
        unlabelled = page.locator("input:not([type=hidden])").evaluate_all(
            "els => els.filter(e => e.labels.length === 0).map(e => e.name)"
        )
        assert unlabelled == []
        assert page.locator("script").count() == 0

        skip = page.get_by_role("link", name=t["skip"])
        hidden = skip.bounding_box()
        assert hidden and hidden["x"] + hidden["width"] <= 0  # off screen until focused
        assert _tab_to(page, skip) == 1
        box = skip.bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0  # on screen once focused
        assert _contrast(skip) >= TEXT_CONTRAST
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        assert _tab_to(page, page.locator("#contact")) == 1  # the skip link skipped the header

        other = "en" if lang == "fr" else "fr"
        switch = page.get_by_role("link", name=t["other_lang"])
        expect(switch).to_have_attribute("hreflang", other)
        switch.click()
        expect(page.locator("html")).to_have_attribute("lang", other)
        expect(page.locator("h1")).to_have_text(PAGE[other]["title"])


@pytest.mark.parametrize("lang", LANGS)
def test_text_and_focus_contrast(browser: Browser, site: Site, lang: str) -> None:
    t = PAGE[lang]
    with new_page(browser, lang) as page:
        page.goto(site.form(lang))
        assert _contrast(page.locator("body")) >= TEXT_CONTRAST
        assert _contrast(page.get_by_role("button")) >= TEXT_CONTRAST
        assert _low_contrast(page) == []
        rings = _focus_rings(page)
        stops = [t["skip"], t["other_lang"], "contact", "nir", "birth_date", t["submit"]]
        # The date field's parts (and its calendar button) are Tab stops of their own.
        assert list(dict.fromkeys(r.where for r in rings)) == stops
        weak = [(r.where, r.width_px, round(r.ratio, 2)) for r in rings if not _visible(r)]
        assert weak == [], weak

        _submit(page, lang, 400)  # empty form: the error state
        assert _low_contrast(page) == []
        page.get_by_label(t["contact"]).fill(_stranger(lang))
        _submit(page, lang, 200)  # the confirmation
        assert _low_contrast(page) == []
        page.goto(f"{site.url}/no-such-page?lang={lang}")  # the message page
        expect(page.get_by_role("alert")).to_be_visible()
        assert _low_contrast(page) == []


def _low_contrast(page: Page) -> list[tuple[str, str, float]]:
    return [
        (t.where, t.text, round(t.ratio, 2)) for t in text_colours(page) if t.ratio < t.required
    ]


def _visible(ring: FocusRing) -> bool:
    return ring.width_px >= 2 and ring.ratio >= UI_CONTRAST


def _contrast(locator: Locator) -> float:
    """Of the element's text against the background it is drawn on."""
    return css_contrast(computed(locator, "color"), background_behind(locator))


def _focus_rings(page: Page) -> list[FocusRing]:
    """The ring of each Tab stop from the top of the page to the button."""
    rings: list[FocusRing] = []
    button = page.get_by_role("button")
    for _ in range(15):
        page.keyboard.press("Tab")
        ring = focus_ring(page)
        assert ring is not None, f"Tab left the page after {rings}"
        rings.append(ring)
        if button.evaluate("el => el === document.activeElement"):
            return rings
    raise AssertionError(f"the button was not reached: {rings}")


# -- XSS -----------------------------------------------------------------------------------


def _strip_csp(route: Route) -> None:
    """Serves the real response without its Content-Security-Policy, so that escaping alone
    has to stop the payload (the CSP is the second layer, checked in-process)."""
    response = route.fetch()
    headers = {k: v for k, v in response.headers.items() if k != "content-security-policy"}
    route.fulfill(response=response, headers=headers)


@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "without-csp"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("contact", XSS_CONTACT), ("nir", XSS_NIR)],
    ids=["contact", "nir"],
)
def test_injected_markup_never_runs(
    browser: Browser, site: Site, field: str, value: str, csp: bool
) -> None:
    with new_page(browser, "fr") as page:
        dialogs = record_dialogs(page)
        if not csp:
            page.route("**/*", _strip_csp)
        page.goto(site.form("fr"))
        page.locator(f"#{field}").fill(value)
        if field == "nir":
            page.locator("#birth_date").fill("1990-01-31")
        with page.expect_response(lambda r: r.url.endswith("/check")) as answer:
            page.get_by_role("button").click()
        html = answer.value.text()
        assert ("content-security-policy" in answer.value.headers) == csp
        page.wait_for_timeout(200)  # an onerror would fire by now
        assert dialogs == [], f"script ran: {dialogs}"
        assert page.locator("script, img").count() == 0
        assert value not in html and value not in page.content()
        expect(page.get_by_role("alert")).to_be_visible()
    assert dialogs == []


def test_lang_parameter_is_not_reflected(browser: Browser, site: Site) -> None:
    with new_page(browser, "fr") as page:
        dialogs = record_dialogs(page)
        page.route("**/*", _strip_csp)
        page.goto(f"{site.url}/?lang=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
        page.wait_for_timeout(200)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        assert page.locator("img").count() == 0 and "onerror" not in page.content()
    assert dialogs == []
