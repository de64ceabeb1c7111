"""What a person checks in the Prefect UI, in headless Chromium: the run Completed, its artifacts listed,
the digits picture rendered from its data URI. One screenshot is kept in tests/output/."""

import os
import shutil
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import temporary_settings

from tests.conftest import PROJECT
from tests.e2e.conftest import client_settings, on
from tests.prefect_api import linked_pictures

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
    for key in ("model-card", "training-metrics", "confusion-matrix"):
        page.get_by_text(key, exact=True).first.wait_for(timeout=30_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "flow-run-artifacts.png"), full_page=True)
    # its pictures are the first run's: linked to the versions that hold them (plumbing/pictures.py)
    page.get_by_text("sample-digits: the same picture as its latest version").first.wait_for(timeout=30_000)

    page.goto(on(prefect_stack, linked_pictures, run.id)["sample-digits"])  # where the link leads
    image = page.locator("img[src^='data:image/png;base64,']").first
    image.wait_for(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth") > 100  # decoded, not a broken image
    page.screenshot(path=str(SCREENSHOTS / "sample-digits-artifact.png"))
    page.close()


def field(page, label: str):
    """The run form's block for a parameter field, found by its label as a person finds it."""
    return (
        page.locator(".schema-form-property")
        .filter(has=page.locator(".schema-form-property__label", has_text=label))
        .last
    )


def test_the_custom_run_form_shows_defaults_choices_and_descriptions(prefect_stack, browser):
    """Deployments > local > Run > Custom run: the fields of the flow's parameters, not empty boxes."""
    with temporary_settings(client_settings(prefect_stack)), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("mnist-training/local")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, prefect_stack)
    page.goto(f"{prefect_stack.url}/deployments/deployment/{deployment.id}/run")
    rates = field(page, "Regularization").locator("input").first
    rates.wait_for(timeout=60_000)
    assert rates.input_value() == "0.8"  # the tutorial's default, shown
    assert "C = 1/rate" in field(page, "Regularization").inner_text()  # and described
    priority = field(page, "VM priority").locator(".p-select-button__value")
    assert priority.inner_text().strip() == "dedicated"  # a choice with its default chosen
    backend = field(page, "Backend").locator("button.p-select-button__control")  # a choice, not a text box
    backend.focus()
    page.keyboard.press("ArrowDown")  # opens the list (a mouse click does not, in headless Chromium)
    options = page.locator(".p-select-option")
    options.first.wait_for(timeout=30_000)
    assert [text.strip() for text in options.all_inner_texts()] == ["local", "azureml", "azureml-v2"]
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "custom-run-form.png"), full_page=True)
    page.close()
