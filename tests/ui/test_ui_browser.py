"""The /ui/ pages in a real browser: Playwright (PyPI) driving Debian's Chromium, headless.

ratecalc, the ShipStation simulator and the Cin7 simulator run as real servers;
the browser clicks and types as a person would (labels, buttons, the keyboard).
Screenshots go to var/screenshots/. Without a browser these tests skip with a
message saying how to run them, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from tests.shop.test_delivery import ORDER, notify, worker
from tests.support import wait_until
from tests.ui.conftest import STORE_PASSWORD, STORE_USER  # noqa: F401

CHROMIUM = os.environ.get("RATECALC_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
HOW = ("to run them: apt-get install chromium (Debian's, at /usr/bin/chromium, or set "
       "RATECALC_TEST_CHROMIUM) and pip install -e '.[dev]' (Playwright), then make test")


def _missing(why: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {why}; {HOW}")
    pytest.skip(f"browser tests skipped: {why}; {HOW}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page_for(browser):
    contexts = []

    def open_page(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def log_in(page, api) -> None:
    page.goto(api.url + "/ui/quote")  # redirected to the login page
    assert page.url.startswith(api.url + "/ui/login")
    page.get_by_label("Staff token").focus()
    page.keyboard.type(api.token)
    page.keyboard.press("Enter")  # the keyboard alone logs in
    page.wait_for_url(api.url + "/ui/quote")


def fill_quote(page) -> None:
    page.get_by_label("Country (2-letter code)").fill("US")
    page.get_by_label("Postal code").fill("20500")
    page.get_by_label("State or province (optional)").fill("DC")
    page.get_by_label("Weight", exact=True).fill("3")
    page.get_by_label("Weight unit").select_option("pounds")
    page.get_by_role("button", name="Get quotes").click()
    page.wait_for_selector("#quotes")


def expected_cheapest_fee(shipstation, markup: str = "10") -> Decimal:
    """From the ShipStation simulator itself, carrier by carrier, with the markup applied:
    the merchant's own package (packageCode "package"), Media Mail excluded (the
    RATECALC_EXCLUDED_SERVICES default)."""
    auth = ("demo-key", "demo-secret")
    carriers = requests.get(shipstation.url + "/carriers", auth=auth, timeout=10).json()
    costs = []
    for carrier in carriers:
        rates = requests.post(shipstation.url + "/shipments/getrates", auth=auth, timeout=10,
                              json={"carrierCode": carrier["code"], "fromPostalCode": "78703",
                                    "toCountry": "US", "toPostalCode": "20500", "toState": "DC",
                                    "weight": {"value": 3, "units": "pounds"},
                                    "packageCode": "package", "residential": False})
        if rates.status_code == 200:
            costs += [Decimal(str(r["shipmentCost"])) + Decimal(str(r["otherCost"]))
                      for r in rates.json() if r["serviceCode"] != "usps_media_mail"]
    cheapest = min(costs) * (1 + Decimal(markup) / 100)
    return cheapest.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_log_in_and_quote_with_the_cheapest_row_highlighted(ui_api, page_for, shipstation):
    api = ui_api()
    page = page_for()
    log_in(page, api)
    fill_quote(page)
    rows = page.locator("#quotes tbody tr")
    assert rows.count() >= 3
    first = rows.nth(0)
    assert "cheapest" in first.get_attribute("class")
    assert page.locator("tr.cheapest").count() == 1
    fee = Decimal(first.locator("td.fee").inner_text().split()[-1])
    assert fee == expected_cheapest_fee(shipstation)
    fees = [Decimal(t.split()[-1]) for t in page.locator("#quotes td.fee").all_inner_texts()]
    assert fees == sorted(fees)
    assert "default markup: +10%" in first.inner_text()
    shot(page, "quote-1280.png")
    fill_quote(page)  # the same question again: from the cache, and the page says so
    assert page.locator(".badge", has_text="cached").count() == 1


def test_a_dry_run_freight_preview_then_a_write(ui_api, page_for, cin7):
    api = ui_api()
    before = cin7.orders[ORDER]["freightTotal"]
    page = page_for()
    log_in(page, api)
    page.get_by_role("textbox", name="Cin7 order #").fill(str(ORDER))
    page.get_by_role("button", name="Preview freight").click()
    preview = page.locator("#freight-preview")
    assert "Preview only" in preview.inner_text()
    new_fee = page.locator(".new-fee").inner_text().split()[1]
    assert cin7.orders[ORDER]["freightTotal"] == before
    assert cin7.calls("PUT") == []
    page.get_by_role("button", name=f"Write {new_fee} to order {ORDER}").click()
    assert "Written to Cin7 order" in page.locator("#freight-preview").inner_text()
    assert Decimal(str(cin7.orders[ORDER]["freightTotal"])) == Decimal(new_fee)
    assert len(cin7.calls("PUT")) == 1
    [written] = api.shop.store.freight_history(ORDER)  # audited as a person's write
    assert (written.action, written.source, written.new_fee) == ("written", "manual", new_fee)


def test_a_failed_notice_is_retried_from_the_order_page(ui_api, page_for, cin7):
    api = ui_api()
    cin7.fail_put_for(ORDER, "Order is being edited by another user.")
    notify(api)
    w = worker(api, cin7, api.shop.clock)
    w.run_once()
    [notice] = api.shop.store.list_notices()
    assert notice.status == "failed"
    page = page_for()
    log_in(page, api)
    page.get_by_role("link", name="Orders").click()
    page.get_by_label("Cin7 order id or reference").fill("#1050")  # by reference
    page.keyboard.press("Enter")
    page.wait_for_url(f"{api.url}/ui/orders/{ORDER}")
    card = page.locator(f"#notice-{notice.id}")
    assert "Order is being edited by another user." in card.inner_text()
    shot(page, "order-1280.png")
    cin7.fail_put_for(ORDER, None)
    card.get_by_role("button", name=f"Retry notice {notice.id}").click()
    assert "queued for another delivery" in page.locator("#done").inner_text()
    assert api.shop.store.get_notice(notice.id).status == "pending"
    assert w.run_once() == 1
    page.reload()
    assert "delivered" in page.locator(f"#notice-{notice.id}").inner_text()
    assert page.get_by_role("button", name=f"Retry notice {notice.id}").count() == 0


def test_the_ops_page_shows_an_open_breaker_after_shipstation_fails(ui_api, page_for,
                                                                   shipstation):
    api = ui_api(BREAKER_FAILURES="2", BREAKER_RESET_SECONDS="300", CARRIERS="ups")
    page = page_for()
    log_in(page, api)
    page.get_by_role("link", name="Ops").click()
    assert page.locator('[data-breaker="shipstation"]').get_attribute("data-state") == "closed"
    assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "15"
    shipstation.force_status(None, 500)
    breaker = api.services.breakers()["shipstation"]

    def opened():
        api.post("/v1/rates", json={"ship_to": {"country": "US", "postal_code": "20500",
                                                "state": "DC"},
                                    "package": {"weight": {"value": 1, "units": "pounds"}}})
        return breaker.state == "open"

    wait_until(opened, timeout=20, interval=0.05, message="the breaker never opened")
    page.reload()
    item = page.locator('[data-breaker="shipstation"]')
    assert item.get_attribute("data-state") == "open"
    assert "failing" in item.inner_text()
    assert int(page.locator("#shipstation-budget strong").first.inner_text()) >= 2
    shot(page, "ops-1280.png")


def test_logout(ui_api, page_for):
    api = ui_api()
    page = page_for()
    log_in(page, api)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(api.url + "/ui/login?bye=1")
    assert "You are logged out" in page.content()
    page.goto(api.url + "/ui/ops")
    assert page.url.startswith(api.url + "/ui/login")


def test_a_post_without_its_csrf_token_is_refused(ui_api, page_for):
    api = ui_api()
    page = page_for()
    log_in(page, api)
    page.locator("form[aria-label=Quote] input[name=csrf_token]").evaluate("e => e.remove()")
    page.get_by_label("Postal code").fill("20500")
    page.get_by_label("Weight", exact=True).fill("1")
    with page.expect_response(lambda r: r.url.endswith("/ui/quote")) as answer:
        page.get_by_role("button", name="Get quotes").click()
    assert answer.value.status == 400
    assert "Form refused" in page.content()


def test_the_390px_layout_has_no_horizontal_scroll(ui_api, page_for, cin7):
    api = ui_api()
    page = page_for(390, 844)
    log_in(page, api)
    fill_quote(page)
    page.get_by_role("textbox", name="Cin7 order #").fill(str(ORDER))
    page.get_by_role("button", name="Preview freight").click()
    page.wait_for_selector("#freight-preview")
    widths = "() => [document.documentElement.scrollWidth, window.innerWidth]"
    scroll, width = page.evaluate(widths)
    assert scroll <= width, f"quote page: {scroll}px wide in a {width}px window"
    fill_quote(page)
    shot(page, "quote-390.png")
    for path in (f"/ui/orders/{ORDER}", "/ui/ops", "/ui/login"):
        page.goto(api.url + path)
        scroll, width = page.evaluate(widths)
        assert scroll <= width, f"{path}: {scroll}px wide in a {width}px window"
