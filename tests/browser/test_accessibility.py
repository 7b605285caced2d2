"""WCAG 2.1 AA in a real browser: axe-core finds nothing on the main pages of every role; form
errors are summarised, announced and linked to their fields; the skip link and keyboard focus
work and can be seen."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from marketplace.ordering import services as ordering
from marketplace.search import catalog_index
from tests.support import PASSWORD, pay_by_transfer

pytestmark = [
    pytest.mark.browser,
    # axe reads the markup, which is the same whatever the database: once is enough
    pytest.mark.skipif(
        os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="accessibility is checked in the SQLite run",
    ),
]

WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
PHONE = 390


@dataclass(frozen=True)
class Page:
    """One page to check: who looks at it (a World attribute, or None for a visitor), where
    (placeholders are filled from the test's data), what data it shows (`needs`, the same
    placeholders), how wide the window is, in which language, and the expected status."""

    name: str
    who: str | None
    path: str
    needs: tuple[str, ...] = ()
    width: int = 1280
    lang: str = "id"
    status: int = 200

    @property
    def id(self) -> str:
        suffix = (f"-{self.width}px" if self.width != 1280 else "") + (
            f"-{self.lang}" if self.lang != "id" else ""
        )
        return f"{self.name}{suffix}"


# Placeholders: product, vendor, line, payment, order:<status> (an order walked to that status),
# cart (an item in the requester's cart), search (the search index rebuilt from the database).
MAIN_PAGES = [
    # Visitors
    Page("login", None, "/login"),
    Page("login", None, "/login", width=PHONE),
    Page("login", None, "/login", lang="en"),
    Page("register", None, "/register"),
    Page("register", None, "/register", width=PHONE),
    Page("open-data", None, "/open-data/"),
    Page("not-found", None, "/no-such-page", status=404),
    # Home for each role
    Page("home-requester", "requester", "/", needs=("order:submitted",)),
    Page("home-requester", "requester", "/", width=PHONE),
    Page("home-approver", "approver", "/", needs=("order:submitted", "order:delivered")),
    Page("home-budget-holder", "budget_holder", "/"),
    Page("home-treasurer", "treasurer", "/", needs=("order:received",)),
    Page("home-finance", "finance", "/", needs=("order:paid",)),
    Page("home-curator", "curator", "/"),
    Page("home-vendor-owner", "vendor_owner", "/", needs=("order:approved",)),
    Page("home-vendor-owner", "vendor_owner", "/", width=PHONE),
    Page("home-auditor", "auditor", "/"),
    # Buying
    Page("catalogue", "requester", "/catalog/"),
    Page("catalogue", "requester", "/catalog/", width=PHONE),
    Page("catalogue", "requester", "/catalog/", lang="en"),
    Page("search-with-facets", "requester", "/catalog/?q=nasi", needs=("search",)),
    Page("product", "requester", "/catalog/products/{product}"),
    Page("product", "requester", "/catalog/products/{product}", width=PHONE),
    Page("vendor-public-page", "requester", "/catalog/vendors/{vendor}"),
    Page("cart-empty", "requester", "/cart"),
    Page("cart-and-checkout", "requester", "/cart", needs=("cart",)),
    Page("cart-and-checkout", "requester", "/cart", needs=("cart",), width=PHONE),
    Page("cart-and-checkout", "requester", "/cart", needs=("cart",), lang="en"),
    Page("orders", "requester", "/orders", needs=("order:submitted", "order:received")),
    Page("orders", "requester", "/orders", needs=("order:submitted",), width=PHONE),
    Page("order-submitted", "requester", "/orders/{order:submitted}"),
    Page("order-submitted", "requester", "/orders/{order:submitted}", width=PHONE),
    Page("order-submitted", "requester", "/orders/{order:submitted}", lang="en"),
    Page("order-approved", "vendor_owner", "/orders/{order:approved}"),
    Page("order-delivered", "approver", "/orders/{order:delivered}"),
    Page("order-received", "requester", "/orders/{order:received}"),
    Page("order-disputed", "approver", "/orders/{order:disputed}"),
    Page("order-paid", "treasurer", "/orders/{order:paid}"),
    Page("order-rejected", "requester", "/orders/{order:rejected}"),
    Page("order-cancelled", "requester", "/orders/{order:cancelled}"),
    Page("rating-form", "requester", "/orders/{order:received}/rating"),
    # Approving, receiving, budgets
    Page("approvals", "approver", "/approvals", needs=("order:submitted", "order:delivered")),
    Page("approvals", "approver", "/approvals", needs=("order:submitted",), width=PHONE),
    Page("receipt-form", "approver", "/orders/{order:delivered}/receive"),
    Page("receipt-form", "approver", "/orders/{order:delivered}/receive", width=PHONE),
    Page("budgets", "budget_holder", "/budgets/"),
    Page("budget-line", "budget_holder", "/budgets/{line}", needs=("order:received",)),
    Page("budget-line-new", "budget_holder", "/budgets/new"),
    # Vendor
    Page("vendor-desk", "vendor_owner", "/vendor/", needs=("order:approved",)),
    Page("vendor-desk", "vendor_owner", "/vendor/", width=PHONE),
    Page("listing-form-new", "vendor_owner", "/vendor/products/new"),
    Page("listing-form-edit", "vendor_owner", "/vendor/products/{product}/edit"),
    Page("vendor-capacity", "vendor_owner", "/vendor/capacity"),
    Page("vendor-documents", "vendor_owner", "/vendor/documents"),
    Page("vendor-tax-numbers", "vendor_owner", "/vendor/tax"),
    Page("vendor-import", "vendor_owner", "/vendor/products/import"),
    Page("vendor-payments", "vendor_owner", "/vendor/payments", needs=("order:paid",)),
    Page("delivery-form", "vendor_owner", "/orders/{order:accepted}/delivery"),
    Page("delivery-form", "vendor_owner", "/orders/{order:accepted}/delivery", width=PHONE),
    # Payments
    Page("payments", "treasurer", "/payments/", needs=("order:received", "order:paid")),
    Page("payments", "treasurer", "/payments/", needs=("order:received",), width=PHONE),
    Page("pay-order", "treasurer", "/orders/{order:received}/pay"),
    Page("transfer-form", "treasurer", "/payments/transfer?orders={order:received}"),
    Page("payment", "treasurer", "/payments/{payment}"),
    # Finance
    Page("finance-overview", "finance", "/finance/", needs=("order:paid",)),
    Page("finance-overview", "finance", "/finance/", needs=("order:paid",), width=PHONE),
    Page("finance-exceptions", "finance", "/finance/exceptions", needs=("order:paid",)),
    Page("finance-reports", "finance", "/finance/reports", needs=("order:paid",)),
    Page("finance-reports", "finance", "/finance/reports", needs=("order:paid",), width=PHONE),
    Page("finance-exports", "finance", "/finance/exports"),
    Page("finance-reconcile", "finance", "/finance/reconcile", needs=("order:paid",)),
    Page("finance-ledgers", "finance", "/finance/ledgers", needs=("order:paid",)),
    Page("finance-payments", "finance", "/finance/payments", needs=("order:paid",)),
    Page("finance-periods", "finance", "/finance/periods"),
    # Curator
    Page("admin-listings", "curator", "/admin/listings"),
    Page("admin-documents", "curator", "/admin/documents"),
    Page("admin-vendors", "curator", "/admin/vendors"),
    Page("admin-vendors", "curator", "/admin/vendors", width=PHONE),
    Page("admin-users", "curator", "/admin/users"),
    Page("admin-new-user", "curator", "/admin/users/new"),
    Page("admin-categories", "curator", "/admin/categories"),
    Page("admin-agencies", "curator", "/admin/agencies"),
    Page("admin-unit-costs", "curator", "/admin/unit-costs"),
    Page("admin-taxes", "curator", "/admin/taxes"),
    Page("admin-tax-rule-form", "curator", "/admin/taxes/new"),
    Page("dispute-resolution", "curator", "/orders/{order:disputed}"),
    # Audit
    Page("audit-trail", "auditor", "/audit/", needs=("order:received",)),
    Page("order-as-auditor", "auditor", "/orders/{order:paid}"),
    # Everyone's own pages
    Page("notifications", "approver", "/notifications/", needs=("order:submitted",)),
    Page("notifications", "approver", "/notifications/", needs=("order:submitted",), width=PHONE),
    Page("notification-preferences", "requester", "/notifications/preferences"),
    Page("account-password", "requester", "/account/password"),
    Page("api-tokens", "finance", "/account/api-tokens/"),
    Page("not-found-signed-in", "requester", "/orders/999999", status=404),
]

PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def arrange(page: Page, db, world, search_dir: str) -> str:  # type: ignore[no-untyped-def]
    """Create what the page needs and return its address."""
    orders: dict[str, int] = {}

    def value(kind: str, argument: str | None) -> str:
        if kind == "order":
            if argument not in orders:
                orders[argument] = world.order_in(db, argument).id
            return str(orders[argument])
        if kind == "payment":
            order = world.order_in(db, "received")
            return str(pay_by_transfer(db, world.treasurer, order).id)
        if kind == "cart":
            ordering.add_to_cart(db, world.requester, world.product, 12)
            return ""
        if kind == "search":
            db.commit()
            catalog_index(search_dir).rebuild(db)
            return ""
        return str({"product": world.product, "vendor": world.vendor, "line": world.line}[kind].id)

    for need in page.needs:
        kind, _, argument = need.partition(":")
        value(kind, argument or None)
    path = PLACEHOLDER.sub(lambda match: value(match.group(1), match.group(2)), page.path)
    db.commit()
    return path


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {', '.join(map(str, node['target']))}"
                f" - {violation['help']} ({violation['helpUrl']})"
            )
    return "\n".join(lines)


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return Axe().run(page, options=WCAG_AA).response["violations"]


@pytest.fixture
def window(browser, base_url):  # type: ignore[no-untyped-def]
    """window(email, width, lang) opens a browser window, signed in when an email is given."""
    contexts = []

    def _open(email: str | None, width: int = 1280, lang: str = "id"):  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        tab.goto("/login")
        if lang != "id":
            tab.get_by_role("button", name=lang.upper(), exact=True).click()
            expect(tab.locator("html")).to_have_attribute("lang", lang)
        if email:
            tab.locator("#email").fill(email)
            tab.locator("#password").fill(PASSWORD)
            tab.locator("main form button[type=submit]").click()
            tab.wait_for_url(f"{base_url}/")
        return tab

    yield _open
    for context in contexts:
        context.close()


@pytest.mark.parametrize("spec", MAIN_PAGES, ids=lambda spec: spec.id)
def test_main_page_has_no_wcag_aa_violations(spec: Page, db, world, search_dir, window):  # type: ignore[no-untyped-def]
    path = arrange(spec, db, world, search_dir)
    email = getattr(world, spec.who).email if spec.who else None
    tab = window(email, spec.width, spec.lang)
    response = tab.goto(path)
    assert response is not None and response.status == spec.status, (path, response.status)
    expect(tab.locator("html")).to_have_attribute("lang", spec.lang)
    violations = axe_violations(tab)
    assert not violations, f"{path} at {spec.width}px:\n{describe(violations)}"


def test_the_reconcile_action_is_in_view_on_a_laptop(db, world, search_dir, window):  # type: ignore[no-untyped-def]
    """Finance staff reconcile from the last column: on a 1280 px screen it shows without
    scrolling the table sideways (the checks wrap)."""
    spec = Page("finance-reconcile", "finance", "/finance/reconcile", needs=("order:paid",))
    path = arrange(spec, db, world, search_dir)  # commits: the server can log in
    tab = window(world.finance.email)
    tab.goto(path)
    wrap = tab.locator(".table-wrap").first
    widths = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
    assert widths[0] <= widths[1], widths
    action = tab.locator("td[data-label='Tindakan']").first
    box = action.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280


# Form errors -------------------------------------------------------------------------------


def assert_errors_summarised_and_linked(tab) -> None:  # type: ignore[no-untyped-def]
    summary = tab.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_focused()
    links = summary.locator("a")
    assert links.count() >= 2
    for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert href.startswith("#"), href
        field = tab.locator(href)
        expect(field).to_have_count(1)
        expect(field).to_have_attribute("aria-invalid", "true")
        described = field.get_attribute("aria-describedby") or ""
        assert f"{href[1:]}-error" in described.split(), (href, described)
        message = tab.locator(f"{href}-error")
        expect(message).to_be_visible()
        expect(message).not_to_be_empty()
    # Following the first error's link puts the cursor in that field.
    first = links.first.get_attribute("href")
    tab.keyboard.press("Tab")
    expect(links.first).to_be_focused()
    tab.keyboard.press("Enter")
    expect(tab.locator(first)).to_be_focused()
    violations = axe_violations(tab)
    assert not violations, describe(violations)


def test_registration_errors_are_announced_and_linked_to_their_fields(db, window):  # type: ignore[no-untyped-def]
    tab = window(None)
    tab.goto("/register")
    tab.locator("#legal_name").fill("CV Dapur Uji")
    tab.locator("main form button[type=submit]").click()
    assert_errors_summarised_and_linked(tab)
    expect(tab.locator("#legal_name")).not_to_have_attribute("aria-invalid", "true")


def test_checkout_errors_are_announced_and_linked_to_their_fields(db, world, window):  # type: ignore[no-untyped-def]
    ordering.add_to_cart(db, world.requester, world.product, 12)
    db.commit()
    tab = window(world.requester.email, lang="en")
    tab.goto("/cart")
    tab.get_by_role("button", name="Submit for approval").click()
    assert_errors_summarised_and_linked(tab)


# Keyboard focus ----------------------------------------------------------------------------


def test_first_tab_reaches_the_skip_link_and_enter_moves_focus_to_the_content(db, world, window):  # type: ignore[no-untyped-def]
    db.commit()
    tab = window(world.requester.email)
    tab.goto("/catalog/")
    tab.keyboard.press("Tab")
    skip = tab.locator(".skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the skip link shows when it has focus"
    tab.keyboard.press("Enter")
    expect(tab.locator("main#main")).to_be_focused()
    # The next Tab continues inside the content, past the navigation.
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.querySelector('main').contains(document.activeElement)")


FOCUS_RING = """element => {
  const style = getComputedStyle(element);
  return {outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
          colour: style.outlineColor, tag: element.tagName};
}"""


def test_keyboard_focus_is_visible_on_links_buttons_and_fields(db, window):  # type: ignore[no-untyped-def]
    tab = window(None)
    seen = set()
    for _ in range(12):
        tab.keyboard.press("Tab")
        ring = tab.evaluate(f"({FOCUS_RING})(document.activeElement)")
        if ring["tag"] == "BODY":  # past the last control of the page
            break
        assert ring["outline"] != "none" and ring["width"] >= 2, ring
        assert ring["colour"] not in ("transparent", "rgba(0, 0, 0, 0)"), ring
        seen.add(ring["tag"])
    assert {"A", "BUTTON", "INPUT"} <= seen, seen
