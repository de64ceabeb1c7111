"""What a person checks in the Prefect UI, in headless Chromium: the run Completed, its artifacts listed,
the digits picture rendered from its data URI. One screenshot is kept in tests/output/."""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("prefect-stack")]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT / "tests" / "output"
# as root, and without the background services that this machine's closed network refuses
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (Debian's chromium package; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def log_in(page, stack) -> None:
    """The server asks for its auth string (PREFECT_SERVER_API_AUTH_STRING) on the UI's login page: type it
    there, as a person does; the UI keeps it for the pages after."""
    page.goto(f"{stack.url}/runs")
    page.get_by_placeholder("admin:pass").fill(stack.env["PREFECT_API_AUTH_STRING"])
    page.get_by_role("button", name="Login").click()
    page.get_by_placeholder("admin:pass").wait_for(state="detached", timeout=30_000)


def test_the_flow_run_page_shows_what_a_person_checks(prefect_stack, completed_runs, browser):
    run = completed_runs[1]  # the all-cached run: its artifacts are published all the same
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, prefect_stack)
    page.goto(f"{prefect_stack.url}/runs/flow-run/{run.id}")
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("Artifacts", exact=True).first.click()
    for key in ("model-card", "training-metrics", "sample-digits", "confusion-matrix"):
        page.get_by_text(key, exact=True).first.wait_for(timeout=30_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "flow-run-artifacts.png"), full_page=True)

    page.get_by_text("sample-digits", exact=True).first.click()
    image = page.locator("img[src^='data:image/png;base64,']").first
    image.wait_for(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth") > 100  # decoded, not a broken image
    page.screenshot(path=str(SCREENSHOTS / "sample-digits-artifact.png"))
    page.close()
