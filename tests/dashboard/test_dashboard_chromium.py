"""The dashboard in a real Chromium: sign-in, every page, hostile names inert; screenshots of
each page for the README (docs/screenshots/ops-*.png)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from rich.console import Console

from breachwatch.notify.demo import run_demo_campaign
from tests.browser import chromium, new_page, record_dialogs, save_screenshot
from tests.dashboard.conftest import HOSTILE_ID, PASSWORD, Ops
from tests.lookup.live import live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def site(ops: Ops, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with one finished campaign and a small phishing wave to show."""
    # In a thread: Playwright's sync API already runs an event loop in this one.
    mail = tmp_path_factory.mktemp("mail")
    worker = threading.Thread(
        target=run_demo_campaign,
        args=(ops.home, "agency-2026", mail, Console(file=io.StringIO())),
    )
    worker.start()
    worker.join()
    with live_server(ops.home) as url:
        for n in range(3):
            httpx.post(
                f"{url}/api/v1/messages/report",
                json={
                    "text": f"France Travail: votre dossier est suspendu, reglez 2,99 EUR "
                    f"sur https://francetravail-aide.test/p{n} sous 24h"
                },
            )
        yield url


def _sign_in(page: Page, site: str, user: str) -> None:
    page.goto(f"{site}/ops/")
    expect(page).to_have_url(f"{site}/ops/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}/ops/")


def test_every_page_for_an_admin(browser: Browser, site: str, ops: Ops) -> None:
    with new_page(browser, "en") as page:
        page.goto(f"{site}/ops/login")
        save_screenshot(page, "ops-login")
        _sign_in(page, site, "admin")
        expect(page.get_by_role("heading", name="Breaches")).to_be_visible()
        save_screenshot(page, "ops-breaches")
        page.get_by_role("link", name="agency-2026").click()
        expect(page.get_by_role("heading", name="Affected population")).to_be_visible()
        save_screenshot(page, "ops-breach")
        page.get_by_role("link", name="Person look-up").click()
        page.get_by_label("Registry record id").fill(ops.registry_ids[0])
        page.get_by_label("Reason (required)").fill("screenshot for the documentation")
        page.get_by_role("button", name="Look up").click()
        expect(
            page.get_by_role("heading", name=f"Registry record {ops.registry_ids[0]}")
        ).to_be_visible()
        save_screenshot(page, "ops-person")
        page.get_by_role("link", name="Audit log").click()
        page.get_by_role("link", name="Verify the hash chain").click()
        expect(page.get_by_text("Hash chain intact")).to_be_visible()
        save_screenshot(page, "ops-audit")
        page.get_by_role("link", name="Users").click()
        expect(page.get_by_role("cell", name="analyst").first).to_be_visible()
        page.get_by_role("link", name="Campaigns").click()
        expect(page.get_by_role("heading", name="Notification campaigns")).to_be_visible()
        save_screenshot(page, "ops-campaigns")
        page.get_by_role("link", name="Phishing waves").click()
        expect(page.get_by_text("francetravail-aide.test").first).to_be_visible()
        save_screenshot(page, "ops-phishing")
        page.get_by_role("button", name="Log out admin (admin)").click()
        expect(page).to_have_url(f"{site}/ops/login")
        page.goto(f"{site}/ops/audit")
        expect(page).to_have_url(f"{site}/ops/login")


def test_hostile_names_never_run(browser: Browser, site: str) -> None:
    with new_page(browser, "en") as page:
        dialogs = record_dialogs(page)
        _sign_in(page, site, "analyst")
        page.goto(f"{site}/ops/person")
        page.get_by_label("Registry record id").fill(HOSTILE_ID)
        page.get_by_label("Reason (required)").fill("escaping check in the browser")
        page.get_by_role("button", name="Look up").click()
        # Shown as text (title-cased by the name normaliser), never parsed as markup.
        expect(page.get_by_role("cell", name=re.compile(r"^<script>alert\("))).to_be_visible()
        assert page.locator("main script").count() == 0
        assert dialogs == []


def test_viewer_sees_no_person_lookup(browser: Browser, site: str) -> None:
    with new_page(browser, "en") as page:
        _sign_in(page, site, "viewer")
        expect(page.get_by_role("link", name="Person look-up")).to_have_count(0)
        response = page.goto(f"{site}/ops/person")
        assert response is not None and response.status == 403
