"""With JavaScript, the cart updates in place and the search box suggests products; the page is
never reloaded for it, and what the server checks is unchanged."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.ordering import services as ordering
from marketplace.ordering.models import OrderLine
from marketplace.search import catalog_index
from tests.support import PASSWORD, ProductFactory

pytestmark = pytest.mark.browser
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def assert_no_wcag_aa_violations(tab) -> None:  # type: ignore[no-untyped-def]
    violations = Axe().run(tab, options=WCAG_AA).response["violations"]
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]


@pytest.fixture
def requester_tab(browser, base_url, db, world):  # type: ignore[no-untyped-def]
    db.commit()  # the live server reads the world through its own connection
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto("/login")
    tab.locator("#email").fill(world.requester.email)
    tab.locator("#password").fill(PASSWORD)
    tab.locator("main form button[type=submit]").click()
    tab.wait_for_url(f"{base_url}/")
    yield tab
    context.close()


def quantity_of(db, line_id: int) -> int | None:  # type: ignore[no-untyped-def]
    """A line's quantity as stored; the read is ended at once so that the server can write."""
    db.expire_all()
    quantity = db.scalar(select(OrderLine.quantity).where(OrderLine.id == line_id))
    db.commit()
    return quantity


def mark_page(tab) -> None:  # type: ignore[no-untyped-def]
    """A marker on the page's window object; a reload or navigation would lose it."""
    tab.evaluate("() => { window.sameDocument = true; }")


def still_same_page(tab) -> bool:  # type: ignore[no-untyped-def]
    return tab.evaluate("() => window.sameDocument === true")


def test_changing_a_quantity_updates_the_totals_without_reloading(db, world, requester_tab):  # type: ignore[no-untyped-def]
    second = ProductFactory(vendor=world.vendor, name="Es Teh Manis Cup", price=7_000)
    ordering.add_to_cart(db, world.requester, world.product, 10)  # Rp 35.000 each
    ordering.add_to_cart(db, world.requester, second, 20)
    ordering.add_to_cart(db, world.requester, world.other_product, 1)
    db.commit()
    (line_id, order_id), (other_id, _), (last_id, last_order_id) = (
        db.execute(
            select(OrderLine.id, OrderLine.order_id).where(OrderLine.product_id == product.id)
        ).one()
        for product in (world.product, second, world.other_product)
    )
    db.commit()
    tab = requester_tab
    tab.goto("/cart")
    row = tab.locator(f'tr[data-line="{line_id}"]')
    section = tab.locator(f'[data-order="{order_id}"]')
    expect(tab.locator("[data-cart-total]")).to_have_text("Rp 525.000")
    mark_page(tab)
    cart_url = tab.url

    quantity = row.get_by_role("spinbutton")
    quantity.fill("12")
    quantity.press("Tab")  # leaving the field saves it
    expect(row.locator("[data-line-total]")).to_have_text("Rp 420.000")
    expect(section.locator("[data-order-subtotal]")).to_have_text("Rp 560.000")
    expect(tab.locator("[data-cart-total]")).to_have_text("Rp 595.000")
    expect(tab.locator("#cart-status")).to_contain_text("Rp 595.000")
    assert still_same_page(tab) and tab.url == cart_url
    assert quantity_of(db, line_id) == 12

    # The server refuses a negative quantity; the reason is shown next to the line, as an alert.
    quantity.fill("-2")
    row.get_by_role("button", name="Perbarui").click()
    error = row.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_have_text("Masukkan jumlah dari 0 sampai 100000.")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    assert_no_wcag_aa_violations(tab)
    expect(tab.locator("[data-cart-total]")).to_have_text("Rp 595.000")
    assert quantity_of(db, line_id) == 12

    # Removing a line takes it off the page and gives the focus to the next one.
    quantity.fill("12")
    row.get_by_role("button", name="Perbarui").click()
    expect(error).to_be_hidden()
    tab.locator(f'tr[data-line="{other_id}"]').get_by_role("button", name="Hapus").click()
    expect(tab.locator(f'tr[data-line="{other_id}"]')).to_have_count(0)
    expect(tab.locator(f'tr[data-line="{last_id}"]').get_by_role("spinbutton")).to_be_focused()
    expect(section.locator("[data-order-subtotal]")).to_have_text("Rp 420.000")
    expect(tab.locator("[data-cart-total]")).to_have_text("Rp 455.000")
    expect(tab.locator("#cart-status")).to_contain_text("Es Teh Manis Cup")
    assert still_same_page(tab)
    assert quantity_of(db, other_id) is None

    # Removing a vendor's last line removes its section, and checkout then submits the rest.
    vendor_section = tab.locator(f'[data-order="{order_id}"]')
    row.get_by_role("button", name="Hapus").click()
    expect(vendor_section).to_have_count(0)
    expect(tab.locator("[data-cart-total]")).to_have_text("Rp 35.000")
    expect(tab.locator('input[name="order_ids"]')).to_have_value(str(last_order_id))
    assert still_same_page(tab)


def test_search_suggestions_by_keyboard(db, world, requester_tab, search_dir):  # type: ignore[no-untyped-def]
    ProductFactory(vendor=world.vendor, name="Tumpeng Nasi Kuning 20 Orang")
    ProductFactory(vendor=world.vendor, name="Tumpeng Mini Ulang Tahun")
    db.commit()
    catalog_index(search_dir).rebuild(db)
    db.commit()
    tab = requester_tab
    tab.goto("/catalog/")
    box = tab.get_by_role("combobox", name="Cari makanan dan minuman")
    box.focus()
    tab.keyboard.type("t")
    tab.wait_for_timeout(500)
    expect(box).to_have_attribute("aria-expanded", "false")  # one letter is too few
    tab.keyboard.type("ump")
    listbox = tab.get_by_role("listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)
    mark_page(tab)

    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("ArrowDown")
    second_id = options.nth(1).get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", second_id)
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    assert_no_wcag_aa_violations(tab)
    tab.keyboard.press("ArrowDown")  # past the end: back to the first
    expect(box).to_have_attribute("aria-activedescendant", options.nth(0).get_attribute("id"))
    chosen = options.nth(0).locator(".suggestion-name").inner_text()

    tab.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("tump")  # Escape closes the list, the words stay
    assert still_same_page(tab)

    tab.keyboard.press("ArrowDown")
    expect(listbox).to_be_visible()
    tab.keyboard.press("Enter")  # searches for the chosen suggestion, on the same search page
    tab.wait_for_url("**/catalog/?q=*")
    expect(tab.get_by_role("combobox", name="Cari makanan dan minuman")).to_have_value(chosen)
    expect(tab.locator(".product-card .card-title").first).to_have_text(chosen)


def test_without_javascript_the_same_forms_work_by_reloading(db, world, browser, base_url):  # type: ignore[no-untyped-def]
    ordering.add_to_cart(db, world.requester, world.product, 10)
    db.commit()
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    try:
        tab = context.new_page()
        tab.goto("/login")
        tab.locator("#email").fill(world.requester.email)
        tab.locator("#password").fill(PASSWORD)
        tab.locator("main form button[type=submit]").click()
        tab.wait_for_url(f"{base_url}/")
        tab.goto("/cart")
        tab.locator(".qty-form").get_by_role("spinbutton").fill("4")
        with tab.expect_navigation():
            tab.get_by_role("button", name="Perbarui").click()
        expect(tab.get_by_role("status").filter(has_text="Keranjang")).to_be_visible()
        expect(tab.locator("[data-cart-total]")).to_have_text("Rp 140.000")
        with tab.expect_navigation():
            tab.get_by_role("button", name="Hapus").click()
        expect(tab.locator("p.empty")).to_be_visible()
        tab.goto("/catalog/")
        expect(tab.get_by_role("searchbox", name="Cari makanan dan minuman")).to_be_visible()
        expect(tab.locator("#q-suggestions")).to_be_hidden()
    finally:
        context.close()
