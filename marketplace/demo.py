"""A realistic demo world for trying e-Order: Jakarta agencies, UMKM vendors, every order state.

`seed` builds it through the real services (listings, budget ledger, order lifecycle), so the
ledger, the audit trail and the order timestamps are exactly what real use would produce. It
only flushes; the `flask seed-demo` command commits. The data itself is in `demo_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from catalog.db import utcnow
from catalog.documents import DocumentData
from catalog.models import Category, DietaryTag, Product, Vendor, VendorStatus
from catalog.services import ListingData, approve_listing, create_listing
from marketplace.accounts.models import Agency, Membership, Role, User
from marketplace.admin import services as curation
from marketplace.budgets import services as ledger
from marketplace.budgets.models import BudgetLine
from marketplace.demo_data import (
    AGENCIES,
    CATEGORIES,
    DOCUMENTS,
    NEW_LISTINGS,
    ORDERS,
    PRODUCTS,
    PROVINCE_USERS,
    VENDORS,
    DemoListing,
    DemoUser,
    DemoVendor,
)
from marketplace.demo_orders import OrderSteps
from marketplace.ordering.services import JAKARTA, OrderRules
from marketplace.taxes.defaults import install_default_tax_rules
from marketplace.vendor import services as vendor_desk

DEMO_PASSWORD = "demo-eorder-2026"  # noqa: S105 - shared by the demo users, printed on purpose

#: dietary tags by category: most catering is halal-certified; fruit and drinks are also
#: vegetarian
DEMO_TAGS = {
    "buah": (DietaryTag.HALAL, DietaryTag.VEGETARIAN, DietaryTag.VEGAN),
    "minuman": (DietaryTag.HALAL, DietaryTag.VEGETARIAN),
    "snack-box": (DietaryTag.HALAL, DietaryTag.VEGETARIAN),
}

#: districts every demo vendor delivers to, besides its own (the agencies' offices)
DELIVERY_DISTRICTS = ["Gambir", "Menteng", "Tanah Abang", "Setiabudi", "Kebayoran Baru"]

_ROLE_NAMES = {  # short, for the terminal table
    Role.VENDOR_OWNER: "Vendor owner",
    Role.VENDOR_STAFF: "Vendor staff",
    Role.REQUESTER: "Requester",
    Role.APPROVER: "Approver (PPK)",
    Role.BUDGET_HOLDER: "Budget holder (PA)",
    Role.TREASURER: "Treasurer",
    Role.FINANCE: "Finance",
    Role.CURATOR: "Curator",
    Role.AUDITOR: "Auditor",
}


def _vendor_users(vendor: DemoVendor) -> list[DemoUser]:
    waiting = vendor.verified_days_ago is None
    users = [
        DemoUser(
            f"owner@{vendor.slug}.demo.id",
            vendor.owner[0],
            vendor.owner[1],
            (Role.VENDOR_OWNER,),
            f"{vendor.trading_name} ({vendor.district}): "
            + ("registered, awaiting the curator" if waiting else "listings, accepts and delivers"),
        )
    ]
    if vendor.staff:
        users.append(
            DemoUser(
                f"staff@{vendor.slug}.demo.id",
                vendor.staff[0],
                vendor.staff[1],
                (Role.VENDOR_STAFF,),
                f"{vendor.trading_name}: staff, marks orders delivered",
            )
        )
    return users


def _all_demo_users() -> list[tuple[DemoUser, str | None, str | None]]:
    """Every demo person with the agency key or vendor slug their roles belong to."""
    people: list[tuple[DemoUser, str | None, str | None]] = []
    for agency in AGENCIES:
        people += [(user, agency.key, None) for user in agency.users]
    people += [(user, None, None) for user in PROVINCE_USERS]
    for vendor in VENDORS:
        people += [(user, None, vendor.slug) for user in _vendor_users(vendor)]
    return people


#: (role label, email, what they do) for every demo login; all share DEMO_PASSWORD
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (" + ".join(_ROLE_NAMES[role] for role in user.roles), user.email, user.does)
    for user, _agency, _vendor in _all_demo_users()
]


def demo_logins_text() -> str:
    """The demo logins as a plain-text table, for the terminal."""
    headers = ("Role", "Email", "What they do")
    widths = [max(len(row[i]) for row in [headers, *DEMO_LOGINS]) for i in range(2)]
    lines = [
        f"Demo logins (password for all: {DEMO_PASSWORD})",
        "",
        f"{headers[0]:<{widths[0]}}  {headers[1]:<{widths[1]}}  {headers[2]}",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 12}",
    ]
    lines += [
        f"{role:<{widths[0]}}  {email:<{widths[1]}}  {does}" for role, email, does in DEMO_LOGINS
    ]
    return "\n".join(lines)


def database_is_empty(session: Session) -> bool:
    """True when there are no users yet, so the demo world may be added."""
    return not session.scalar(select(func.count()).select_from(User))


def seed(session: Session, config: Mapping[str, Any]) -> None:
    """Add the whole demo world to the session (flushed, not committed)."""
    rules = OrderRules(
        order_cap=config["ORDER_CAP"],
        second_approval_threshold=config["SECOND_APPROVAL_THRESHOLD"],
        split_purchase_threshold=config["SPLIT_PURCHASE_THRESHOLD"],
    )
    install_default_tax_rules(session)  # migrations seed them; a database emptied since has none
    documents_dir = Path(config["UPLOAD_DIR"]) / "documents"
    _Seeder(session, rules, utcnow(), documents_dir).run()


class _Seeder(OrderSteps):
    def __init__(
        self, session: Session, rules: OrderRules, now: datetime, documents_dir: Path
    ) -> None:
        self.session = session
        self.documents_dir = documents_dir
        self.rules = rules
        self.now = now
        self.today = now.astimezone(JAKARTA).date()
        self.agencies: dict[str, Agency] = {}
        self.vendors: dict[str, Vendor] = {}
        self.lines: dict[tuple[str, str, int], BudgetLine] = {}
        self.line_specs: dict[tuple[str, str], tuple[str, str, int]] = {}
        self.products: dict[tuple[str, str], Product] = {}
        self.users: dict[str, User] = {}
        self.payments = 0

    def run(self) -> None:
        categories = self._categories()
        self._agencies_and_budgets()
        self._vendors()
        self._products(categories)
        self._users()
        self._paperwork()
        for spec in ORDERS:
            self._order(spec)
        self.session.flush()

    # Reference data --------------------------------------------------------------------

    def _categories(self) -> dict[str, Category]:
        categories = {}
        for position, (slug, name_id, name_en) in enumerate(CATEGORIES, start=1):
            category = Category(slug=slug, name_id=name_id, name_en=name_en, position=position)
            self.session.add(category)
            categories[slug] = category
        self.session.flush()
        return categories

    def _agencies_and_budgets(self) -> None:
        for data in AGENCIES:
            agency = Agency(code=data.code, name=data.name, address=data.address, city=data.city)
            self.session.add(agency)
            self.session.flush()
            self.agencies[data.key] = agency
            for code, name, activity, allocation in data.budget_lines:
                self.line_specs[(data.key, code)] = (name, activity, allocation)
                self._line(data.key, code, self.today.year)

    def _line(self, agency_key: str, code: str, year: int) -> BudgetLine:
        """The agency's line for `year`, made on first use: spending belongs to the fiscal
        year of the delivery, and demo orders around New Year fall in two years."""
        key = (agency_key, code, year)
        if key not in self.lines:
            name, activity, allocation = self.line_specs[(agency_key, code)]
            line = BudgetLine(
                agency_id=self.agencies[agency_key].id,
                fiscal_year=year,
                account_code=code,
                name=name,
                activity=activity,
                allocation=0,
            )
            self.session.add(line)
            self.session.flush()
            ledger.allocate(self.session, line, allocation, actor=None, reason=f"DPA {year}")
            self.lines[key] = line
        return self.lines[key]

    def _vendors(self) -> None:
        for number, data in enumerate(VENDORS, start=1):
            verified = data.verified_days_ago is not None
            registered_days_ago = (data.verified_days_ago or 0) + 14
            vendor = Vendor(
                legal_name=data.legal_name,
                trading_name=data.trading_name,
                business_type=data.business_type,
                scale=data.scale,
                district=data.district,
                city=data.city,
                phone=data.phone,
                nib=f"9120{number:09d}",
                npwp=f"01{number:013d}" if number % 3 else None,  # some micro vendors have none
                # Caterers and restaurants beyond micro scale are registered for regional tax.
                regional_tax_number=(
                    f"NPWPD-{number:07d}"
                    if data.business_type.value in {"caterer", "restaurant"}
                    and (data.scale.value != "micro" or number % 2)
                    else None
                ),
                service_districts=[data.district, *DELIVERY_DISTRICTS],
                bank_name="Bank DKI",
                bank_account_number=f"1010{number:06d}",
                bank_account_holder=data.legal_name,
                contact_person=data.owner[0],
                max_portions_per_day=600 if data.scale.value != "micro" else 300,
                status=VendorStatus.VERIFIED if verified else VendorStatus.PENDING,
                created_at=self.now - timedelta(days=registered_days_ago),
                verified_at=(
                    self.now - timedelta(days=data.verified_days_ago) if verified else None
                ),
            )
            self.session.add(vendor)
            self.vendors[data.slug] = vendor
        self.session.flush()

    def _products(self, categories: dict[str, Category]) -> None:
        for slug, rows in PRODUCTS.items():
            vendor = self.vendors[slug]
            for row in rows:
                category, name, description, unit, price, minimum, lead, *status = row
                listing = ListingData(
                    name=name,
                    description=description,
                    category_id=categories[category].id,
                    unit=unit,
                    price=price,
                    min_order_quantity=minimum,
                    lead_time_hours=lead,
                    tags=DEMO_TAGS.get(category, (DietaryTag.HALAL,)),
                    **({"status": status[0]} if status else {}),
                )
                product = create_listing(self.session, vendor, listing)
                if vendor.is_verified:  # the pending vendor's listings wait in the curator's queue
                    approve_listing(self.session, product)
                self.products[(slug, name)] = product

    def _users(self) -> None:
        password_hash = generate_password_hash(DEMO_PASSWORD)  # slow: once for everybody
        for data, agency_key, vendor_slug in _all_demo_users():
            user = User(
                email=data.email,
                name=data.name,
                position=data.position,
                password_hash=password_hash,
            )
            for role in data.roles:
                user.memberships.append(
                    Membership(
                        role=role,
                        agency_id=self.agencies[agency_key].id if role.scope == "agency" else None,
                        vendor_id=self.vendors[vendor_slug].id if role.scope == "vendor" else None,
                    )
                )
            self.session.add(user)
            self.users[data.email] = user
        self.session.flush()

    # What the curator and the vendors still have to look at ----------------------------

    def _paperwork(self) -> None:
        """Listings sent to the curator (one waiting, one turned down) and the vendors'
        certificates: verified, one close to its expiry, one waiting for review."""
        curator = self.users["curator@demo.go.id"]
        categories = {c.slug: c for c in self.session.scalars(select(Category))}
        for data in NEW_LISTINGS:
            product = self._new_listing(data, categories)
            if data.rejection:
                curation.reject_listing(self.session, curator, product, data.rejection)
        for slug, kind, number, issued_days_ago, expires_in_days, verified in DOCUMENTS:
            owner = self.users[f"owner@{slug}.demo.id"]
            document = vendor_desk.upload_document(
                self.session,
                owner,
                self.vendors[slug],
                DocumentData(
                    kind=kind,
                    number=number,
                    issued_on=self.today - timedelta(days=issued_days_ago),
                    expires_on=self.today + timedelta(days=expires_in_days),
                ),
                _demo_pdf(number),
                self.documents_dir,
                self.today,
            )
            if verified:
                curation.verify_document(self.session, curator, document, self.today)
        self.session.flush()

    def _new_listing(self, data: DemoListing, categories: dict[str, Category]) -> Product:
        owner = self.users[f"owner@{data.vendor}.demo.id"]
        listing = ListingData(
            name=data.name,
            description=data.description,
            category_id=categories[data.category].id,
            unit=data.unit,
            price=data.price,
            min_order_quantity=data.minimum,
            lead_time_hours=data.lead_hours,
            tags=DEMO_TAGS.get(data.category, (DietaryTag.HALAL,)),
        )
        product = vendor_desk.create_product(
            self.session, owner, self.vendors[data.vendor], listing
        )
        self.products[(data.vendor, data.name)] = product
        return product


def _demo_pdf(title: str) -> bytes:
    """A one-page PDF standing in for a scanned certificate."""
    text = f"Dokumen contoh e-Order: {title}".encode("latin-1", "replace")
    stream = b"BT /F1 14 Tf 50 780 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body
