"""Factories and a ready-made small world (one agency, one vendor) for tests."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

import factory
import pytest
from sqlalchemy import Engine, event, make_url, text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from catalog.db import utcnow
from catalog.models import (
    BusinessScale,
    BusinessType,
    Category,
    Product,
    ProductStatus,
    ReviewState,
    Unit,
    Vendor,
    VendorStatus,
)
from marketplace.accounts.models import Agency, Membership, Role, User
from marketplace.budgets import services as ledger
from marketplace.budgets.models import BudgetLine
from marketplace.db import make_engine
from marketplace.delivery import services as delivery
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.services import JAKARTA, CheckoutDetails, OrderRules
from marketplace.payments import services as payments
from marketplace.payments.models import Payment
from marketplace.taxes.defaults import install_default_tax_rules

PASSWORD = "correct-horse-battery"
# Hashing is deliberately slow; compute the test password's hash once.
PASSWORD_HASH = generate_password_hash(PASSWORD)


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "the page has no form token"
    return match.group(1)


def log_in_through_the_form(client, user: User):  # type: ignore[no-untyped-def]
    """Log `user` in as a browser does, token included (for apps that check CSRF)."""
    login_page = client.get("/login").get_data(as_text=True)
    return client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": form_token(login_page)},
    )


class _Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


class AgencyFactory(_Base):
    class Meta:
        model = Agency

    code = factory.Sequence(lambda n: f"1.{n:02d}.0.00.0.00.01.0000")
    name = factory.Sequence(lambda n: f"Dinas Uji Coba {n}")
    address = "Jl. Medan Merdeka Selatan No. 8-9, Gambir"
    city = "Jakarta Pusat"


class UserFactory(_Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.go.id")
    name = factory.Sequence(lambda n: f"Pengguna {n}")
    position = "Staf"
    password_hash = PASSWORD_HASH


class VendorFactory(_Base):
    class Meta:
        model = Vendor

    legal_name = factory.Sequence(lambda n: f"CV Dapur Uji {n}")
    trading_name = factory.Sequence(lambda n: f"Dapur Uji {n}")
    business_type = BusinessType.CATERER
    scale = BusinessScale.MICRO
    district = "Tebet"
    city = "Jakarta Selatan"
    phone = "0812-0000-0000"
    service_districts = factory.LazyFunction(lambda: ["Tebet", "Menteng", "Gambir"])
    status = VendorStatus.VERIFIED


class CategoryFactory(_Base):
    class Meta:
        model = Category

    slug = factory.Sequence(lambda n: f"kategori-{n}")
    name_id = factory.Sequence(lambda n: f"Kategori {n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(_Base):
    class Meta:
        model = Product

    vendor = factory.SubFactory(VendorFactory)
    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Nasi Box Ayam Bakar {n}")
    description = "Nasi putih, ayam bakar, sayur asem, sambal, buah."
    unit = Unit.BOX
    price = 35_000
    min_order_quantity = 1
    lead_time_hours = 24
    status = ProductStatus.PUBLISHED
    review_state = ReviewState.APPROVED


ALL_FACTORIES = (AgencyFactory, UserFactory, VendorFactory, CategoryFactory, ProductFactory)


def bind_factories(session: Session) -> None:
    for factory_class in ALL_FACTORIES:
        factory_class._meta.sqlalchemy_session = session


def user_with_roles(session: Session, *roles: Role, agency=None, vendor=None, **kw) -> User:  # type: ignore[no-untyped-def]
    user = UserFactory(**kw)
    for role in roles:
        session.add(
            Membership(
                user=user,
                role=role,
                agency_id=agency.id if role.scope == "agency" else None,
                vendor_id=vendor.id if role.scope == "vendor" else None,
            )
        )
    session.flush()
    return user


def budget_line(
    session: Session, agency: Agency, allocation: int, code: str = "5.1.02.01.01.0052"
) -> BudgetLine:
    line = BudgetLine(
        agency_id=agency.id,
        # the year of the deliveries tests usually ask for (three days ahead)
        fiscal_year=delivery_in(3)[0].year,
        account_code=code,
        name="Belanja Makanan dan Minuman Rapat",
        activity="Rapat koordinasi",
    )
    session.add(line)
    session.flush()
    if allocation:
        ledger.allocate(session, line, allocation, actor=None, reason="DPA")
    return line


def delivery_in(days: int = 3) -> tuple[date, time]:
    return (utcnow().astimezone(JAKARTA) + timedelta(days=days)).date(), time(11, 30)


def details_for(line: BudgetLine, days: int = 3, **overrides) -> CheckoutDetails:  # type: ignore[no-untyped-def]
    delivery_date, delivery_time = delivery_in(days)
    values = dict(
        budget_line_id=line.id,
        activity_name="Rapat koordinasi kesiapsiagaan banjir",
        delivery_date=delivery_date,
        delivery_time=delivery_time,
        delivery_address="Jl. Kebon Sirih No. 22, Menteng",
        headcount=30,
        delivery_district="Menteng",
        recipient_name="Joko Susilo",
        recipient_phone="0812-1111-2222",
    )
    values.update(overrides)
    return CheckoutDetails(**values)


@dataclass
class World:
    """One agency with every agency role, one verified vendor with a product, a budget line,
    a second agency and vendor for tenant checks, and the province-wide roles."""

    agency: Agency
    other_agency: Agency
    vendor: Vendor
    other_vendor: Vendor
    product: Product
    other_product: Product
    line: BudgetLine
    other_line: BudgetLine
    requester: User
    approver: User
    budget_holder: User
    treasurer: User
    vendor_owner: User
    vendor_staff: User
    finance: User
    curator: User
    auditor: User
    other_requester: User
    other_approver: User
    other_vendor_owner: User
    rules: OrderRules

    def users(self) -> dict[str, User]:
        return {
            name: getattr(self, name)
            for name in (
                "requester",
                "approver",
                "budget_holder",
                "treasurer",
                "vendor_owner",
                "vendor_staff",
                "finance",
                "curator",
                "auditor",
                "other_requester",
                "other_approver",
                "other_vendor_owner",
            )
        }

    def submitted_order(self, session: Session, quantity: int = 10) -> Order:
        ordering.add_to_cart(session, self.requester, self.product, quantity)
        cart = ordering.cart_orders(session, self.requester)
        [order] = ordering.checkout(
            session, self.requester, [o.id for o in cart], details_for(self.line), self.rules
        )
        return order

    def order_in(self, session: Session, status: str, quantity: int = 10) -> Order:
        """An order walked through the real services up to `status`."""
        order = self.submitted_order(session, quantity)
        path = {
            "submitted": [],
            "approved": ["approve"],
            "accepted": ["approve", "accept"],
            "delivered": ["approve", "accept", "deliver"],
            "received": ["approve", "accept", "deliver", "receive"],
            "disputed": ["approve", "accept", "deliver", "dispute"],
            "paid": ["approve", "accept", "deliver", "receive", "pay"],
            "reconciled": ["approve", "accept", "deliver", "receive", "pay", "reconcile"],
            "rejected": ["reject"],
            "cancelled": ["cancel"],
            "declined": ["approve", "decline"],
        }[status]
        for step in path:
            if step == "approve":
                ordering.approve_order(session, self.approver, order)
            elif step == "accept":
                ordering.accept_order(session, self.vendor_owner, order)
            elif step == "deliver":
                delivery.deliver_order(session, self.vendor_owner, order)
            elif step == "receive":
                delivery.receive_order(
                    session,
                    self.approver,
                    order,
                    [delivery.LineReceipt(line.id, line.quantity) for line in order.lines],
                )
            elif step == "dispute":
                delivery.dispute_order(session, self.approver, order, "Nasi basi")
            elif step == "pay":
                pay_by_transfer(session, self.treasurer, order)
            elif step == "reconcile":
                ordering.reconcile_order(session, self.finance, order)
            elif step == "reject":
                ordering.reject_order(session, self.approver, order, "Tidak sesuai DPA")
            elif step == "cancel":
                ordering.cancel_order(session, self.requester, order, "Rapat ditunda")
            elif step == "decline":
                ordering.decline_order(session, self.vendor_owner, order, "Kapasitas penuh")
        return order


def pay_by_transfer(session: Session, treasurer: User, order: Order) -> Payment:
    """Pay what the order is owed by a treasury transfer dated today."""
    pay_by_transfer.counter += 1  # type: ignore[attr-defined]
    return payments.record_transfer(
        session,
        treasurer,
        [order],
        payments.TransferDetails(
            reference=f"SP2D-{pay_by_transfer.counter:05d}",  # type: ignore[attr-defined]
            paid_on=payments.jakarta_today(),
            amount=payments.outstanding(session, order),
            payer_account="RKUD Provinsi DKI Jakarta",
        ),
    )


pay_by_transfer.counter = 0  # type: ignore[attr-defined]


def build_world(session: Session) -> World:
    bind_factories(session)
    install_default_tax_rules(session)
    agency, other_agency = AgencyFactory(), AgencyFactory()
    vendor, other_vendor = VendorFactory(), VendorFactory()
    category = CategoryFactory()
    product = ProductFactory(vendor=vendor, category=category)
    other_product = ProductFactory(vendor=other_vendor, category=category)
    world = World(
        agency=agency,
        other_agency=other_agency,
        vendor=vendor,
        other_vendor=other_vendor,
        product=product,
        other_product=other_product,
        line=budget_line(session, agency, 5_000_000),
        other_line=budget_line(session, other_agency, 5_000_000),
        requester=user_with_roles(session, Role.REQUESTER, agency=agency),
        approver=user_with_roles(session, Role.APPROVER, agency=agency),
        budget_holder=user_with_roles(session, Role.BUDGET_HOLDER, agency=agency),
        treasurer=user_with_roles(session, Role.TREASURER, agency=agency),
        vendor_owner=user_with_roles(session, Role.VENDOR_OWNER, vendor=vendor),
        vendor_staff=user_with_roles(session, Role.VENDOR_STAFF, vendor=vendor),
        finance=user_with_roles(session, Role.FINANCE),
        curator=user_with_roles(session, Role.CURATOR),
        auditor=user_with_roles(session, Role.AUDITOR),
        other_requester=user_with_roles(session, Role.REQUESTER, agency=other_agency),
        other_approver=user_with_roles(session, Role.APPROVER, agency=other_agency),
        other_vendor_owner=user_with_roles(session, Role.VENDOR_OWNER, vendor=other_vendor),
        rules=OrderRules(),
    )
    session.flush()
    return world


def scratch_engine(kind: str, tmp_path: Path, name: str) -> Iterator[Engine]:
    """An empty database of its own for a migration test, dropped afterwards: an SQLite file
    (`kind` "sqlite"), or a PostgreSQL database named after the suite's (`kind`
    "postgresql"; skipped when the suite runs on SQLite)."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("the PostgreSQL backfill runs when the suite runs on PostgreSQL")
    database = f"{make_url(url).database}_{name}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    engine = make_engine(make_url(url).set(database=database).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
    admin.dispose()


def statements_during(app, action) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQL statements the app's engine ran while `action()` ran."""
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_rest):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return statements
