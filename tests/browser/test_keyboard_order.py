"""A requester orders with the keyboard alone: no mouse, no address bar after the first page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.search import catalog_index
from tests.support import PASSWORD

pytestmark = pytest.mark.browser

FOCUSED = """([selector, name]) => {
  const element = document.activeElement;
  if (!element || !element.matches(selector)) return false;
  if (!name) return true;
  const label = (element.getAttribute('aria-label') || element.textContent || element.value || '');
  return label.replace(/\\s+/g, ' ').trim().includes(name);
}"""


def describe_focus(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e ? e.outerHTML.slice(0, 160) : 'nothing'; }"
    )


def tab_to(page, selector: str, name: str | None = None, *, most: int = 80, back=False):  # type: ignore[no-untyped-def]
    """Press Tab (Shift+Tab with back=True) until the focused element matches `selector` and,
    if given, its accessible text contains `name`; fail after `most` presses."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(most):
        page.keyboard.press(key)
        if page.evaluate(FOCUSED, [selector, name]):
            return
    raise AssertionError(
        f"{most} presses of {key} never reached {selector} {name or ''}; "
        f"focus is on {describe_focus(page)}"
    )


def type_into(page, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Tab to a field and replace what it holds with `text`."""
    tab_to(page, selector)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_requester_finds_a_product_fills_the_cart_and_submits_an_order_by_keyboard(
    db, world, browser, base_url, search_dir
):  # type: ignore[no-untyped-def]
    product = world.product
    product.name = "Nasi Kotak Rendang Keyboard"
    db.commit()
    catalog_index(search_dir).rebuild(db)
    db.commit()  # end the test's read, so the server's writes do not wait for it

    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/login")

        # Log in.
        type_into(page, "#email", world.requester.email)
        type_into(page, "#password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base_url}/")
        page.wait_for_url(f"{base_url}/")

        # Open the catalogue from the main navigation and search for the product.
        tab_to(page, "nav a[href$='/catalog/']")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base_url}/catalog/")
        type_into(page, "#q", "rendang")
        page.keyboard.press("Enter")
        page.wait_for_url("**/catalog/?q=rendang*")

        # Open the product and add twelve boxes to the cart.
        tab_to(page, f"a[href$='/catalog/products/{product.id}']")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/catalog/products/{product.id}")
        type_into(page, "#quantity", "12")
        tab_to(page, "main form button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base_url}/cart")
        expect(page.get_by_text("Rp 420.000").first).to_be_visible()

        # Fill the checkout form, checking that the focus is visible on the way.
        type_into(page, "#activity_name", "Rapat koordinasi tanpa tetikus")
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        type_into(page, "#delivery_district", "Menteng")
        type_into(page, "#recipient_name", "Joko Susilo")
        type_into(page, "#recipient_phone", "0812-1111-2222")
        type_into(page, "#headcount", "12")
        # Back up to the budget line and choose the line with the arrow keys.
        tab_to(page, "#budget_line_id", back=True)
        if page.evaluate("() => document.activeElement.value") in ("", "0"):
            page.keyboard.press("ArrowDown")
        tab_to(page, "main form button[type=submit]", "Ajukan")
        page.keyboard.press("Space")
        # Submitting commits the budget and writes the audit trail: on a busy machine it can
        # take a few seconds before the order's page arrives.
        page.wait_for_url(re.compile(r".*/(orders|requests)/[^/]+$"))

        expect(page.get_by_role("status")).to_contain_text("Anggaran telah terikat")
        expect(page.locator(".badge").first).to_have_text("Menunggu persetujuan")
    finally:
        context.close()

    [order] = db.scalars(select(Order).where(Order.requester_id == world.requester.id)).all()
    assert order.status == OrderStatus.SUBMITTED
    assert order.activity_name == "Rapat koordinasi tanpa tetikus"
    assert order.total == 12 * product.price
    db.commit()
