"""A realistic demo world for trying e-Order: Jakarta agencies, UMKM vendors, every order state.

`seed` builds it through the real services (listings, budget ledger, order lifecycle), so the
ledger, the audit trail and the order timestamps are exactly what real use would produce. It
only flushes; the `flask seed-demo` command commits. The data itself is in `demo_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from catalog.db import utcnow
from catalog.models import Category, DietaryTag, Product, Vendor, VendorStatus
from catalog.services import ListingData, approve_listing, create_listing
from marketplace.accounts.models import Agency, Membership, Role, User
from marketplace.budgets import services as ledger
from marketplace.budgets.models import BudgetLine
from marketplace.delivery import services as delivery_steps
from marketplace.demo_data import (
    AGENCIES,
    CATEGORIES,
    ORDERS,
    PRODUCTS,
    PROVINCE_USERS,
    VENDORS,
    DemoOrder,
    DemoUser,
    DemoVendor,
)
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.services import JAKARTA, CheckoutDetails, OrderRules
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.ratings import services as ratings
from marketplace.taxes.defaults import install_default_tax_rules

DEMO_PASSWORD = "demo-eorder-2026"  # noqa: S105 - shared by the demo users, printed on purpose

#: how far before a past delivery the order was placed (longer than every lead time)
PAST_ORDER_LEAD = timedelta(days=5)

#: dietary tags by category: most catering is halal-certified; fruit and drinks are also
#: vegetarian
DEMO_TAGS = {
    "buah": (DietaryTag.HALAL, DietaryTag.VEGETARIAN, DietaryTag.VEGAN),
    "minuman": (DietaryTag.HALAL, DietaryTag.VEGETARIAN),
    "snack-box": (DietaryTag.HALAL, DietaryTag.VEGETARIAN),
}

#: districts every demo vendor delivers to, besides its own (the agencies' offices)
DELIVERY_DISTRICTS = ["Gambir", "Menteng", "Tanah Abang", "Setiabudi", "Kebayoran Baru"]

#: what the demo's requesters write when they rate a vendor
RATING_COMMENTS = {
    5: "Tepat waktu, rasa enak, porsi sesuai. Peserta rapat puas.",
    4: "Makanan enak, tetapi datang sedikit terlambat.",
    3: "Sebagian pesanan kurang; sisanya baik.",
}

#: the lifecycle steps that lead from a submitted order to each status
PATHS: dict[OrderStatus, tuple[str, ...]] = {
    OrderStatus.SUBMITTED: (),
    OrderStatus.APPROVED: ("approve",),
    OrderStatus.ACCEPTED: ("approve", "accept"),
    OrderStatus.DELIVERED: ("approve", "accept", "deliver"),
    OrderStatus.RECEIVED: ("approve", "accept", "deliver", "receive"),
    OrderStatus.PAID: ("approve", "accept", "deliver", "receive", "pay"),
    OrderStatus.RECONCILED: ("approve", "accept", "deliver", "receive", "pay", "reconcile"),
    OrderStatus.DISPUTED: ("approve", "accept", "deliver", "dispute"),
    OrderStatus.REJECTED: ("reject",),
    OrderStatus.RETURNED: ("return",),
    OrderStatus.DECLINED: ("approve", "decline"),
    OrderStatus.EXPIRED: ("approve", "expire"),
    OrderStatus.CANCELLED: ("cancel",),
}

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
    _Seeder(session, rules, utcnow()).run()


class _Seeder:
    def __init__(self, session: Session, rules: OrderRules, now: datetime) -> None:
        self.session = session
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

    # Orders ----------------------------------------------------------------------------

    def _person(self, agency_key: str, mailbox: str) -> User:
        return self.users[f"{mailbox}@{agency_key}.demo.go.id"]

    def _order(self, spec: DemoOrder) -> Order:
        requester = self._person(spec.agency, spec.requester)
        orders = [
            ordering.add_to_cart(self.session, requester, self.products[(spec.vendor, name)], qty)
            for name, qty in spec.items
        ]
        order = orders[-1]  # one vendor, so one cart order
        status = OrderStatus(spec.status)
        if status is OrderStatus.CART:
            return order

        delivery_date = self.today + timedelta(days=spec.day)
        delivery = datetime.combine(delivery_date, spec.at, tzinfo=JAKARTA)
        # An order delivered in the past was placed a few days before its delivery.
        placed = self.now if delivery > self.now else delivery - PAST_ORDER_LEAD
        line = self._line(spec.agency, spec.account_code, delivery_date.year)
        details = CheckoutDetails(
            budget_line_id=line.id,
            activity_name=spec.activity,
            delivery_date=delivery_date,
            delivery_time=spec.at,
            delivery_address=spec.address,
            headcount=spec.headcount,
            delivery_district="Gambir",
            delivery_until=(delivery + timedelta(minutes=30)).time(),
            recipient_name=requester.name,
            recipient_phone="021-3822-255",
            notes=spec.notes,
        )
        [order] = ordering.checkout(
            self.session, requester, [order.id], details, self.rules, now=placed
        )
        # An order above the threshold approved once stays submitted for the budget holder.
        steps = PATHS[status]
        if spec.second_approval_pending and order.needs_second_approval:
            steps = ("approve",)
        for step in steps:
            getattr(self, f"_{step}")(spec, order)
        if order.status is not status:
            raise RuntimeError(f"demo order {order.reference} ended {order.status}, not {status}")
        return order

    def _vendor_user(self, spec: DemoOrder, *, staff: bool = False) -> User:
        owner = self.users[f"owner@{spec.vendor}.demo.id"]
        return self.users.get(f"staff@{spec.vendor}.demo.id", owner) if staff else owner

    def _approve(self, spec: DemoOrder, order: Order) -> None:
        ordering.approve_order(self.session, self._person(spec.agency, "approver"), order)
        if order.status is OrderStatus.SUBMITTED and not spec.second_approval_pending:
            ordering.approve_order(self.session, self._person(spec.agency, "budget"), order)

    def _reject(self, spec: DemoOrder, order: Order) -> None:
        ordering.reject_order(
            self.session, self._person(spec.agency, "approver"), order, spec.reason
        )

    def _return(self, spec: DemoOrder, order: Order) -> None:
        ordering.return_order(
            self.session, self._person(spec.agency, "approver"), order, spec.reason
        )

    def _cancel(self, spec: DemoOrder, order: Order) -> None:
        ordering.cancel_order(
            self.session, self._person(spec.agency, spec.requester), order, spec.reason
        )

    def _accept(self, spec: DemoOrder, order: Order) -> None:
        # Orders delivered in the past were answered well before their delivery.
        delivery = datetime.combine(order.delivery_date, order.delivery_time, tzinfo=JAKARTA)
        answered = min(self.now, delivery - timedelta(days=1))
        ordering.accept_order(
            self.session, self._vendor_user(spec), order, rules=self.rules, now=answered
        )

    def _decline(self, spec: DemoOrder, order: Order) -> None:
        ordering.decline_order(self.session, self._vendor_user(spec), order, spec.reason)

    def _expire(self, spec: DemoOrder, order: Order) -> None:
        deadline = ordering.acceptance_deadline(order, self.rules) or self.now
        expired = ordering.expire_unanswered_orders(
            self.session, self.rules, now=deadline + timedelta(minutes=1)
        )
        if [o.id for o in expired] != [order.id]:
            raise RuntimeError("the demo expiry step expired other orders too")

    def _deliver(self, spec: DemoOrder, order: Order) -> None:
        agreed = datetime.combine(order.delivery_date, order.delivery_time, tzinfo=JAKARTA)
        # Every third kitchen runs a little late, so that on-time rates differ.
        late = order.id % 3 == 0
        handed_over = min(self.now, agreed + timedelta(minutes=25 if late else -10))
        if order.accepted_at is not None:
            handed_over = max(handed_over, order.accepted_at)
        delivery_steps.deliver_order(
            self.session,
            self._vendor_user(spec, staff=True),
            order,
            delivery_steps.DeliveryReport(
                handed_over_at=handed_over, note="Diterima oleh petugas keamanan lobi."
            ),
        )

    def _receive(self, spec: DemoOrder, order: Order) -> None:
        received = spec.received or tuple(quantity for _name, quantity in spec.items)
        by_product = {
            self.products[(spec.vendor, name)].id: qty
            for (name, _q), qty in zip(spec.items, received, strict=True)
        }
        receipts = []
        for line in order.lines:
            quantity = by_product[line.product_id]
            remark = spec.remark if quantity < line.quantity else ""
            receipts.append(delivery_steps.LineReceipt(line.id, quantity, remark))
        # The approver judges timeliness; every third kitchen of the demo ran late.
        delivery_steps.receive_order(
            self.session,
            self._person(spec.agency, "approver"),
            order,
            receipts,
            on_time=order.id % 3 != 0,
            rules=self.rules,
        )
        # Most requesters rate the vendor; every fourth order is left for a demo login to rate.
        if order.id % 4:
            partial = (order.received_total or 0) < order.total
            stars = 3 if partial else (5 if order.on_time else 4)
            ratings.rate_vendor(
                self.session,
                self._person(spec.agency, spec.requester),
                order,
                stars,
                RATING_COMMENTS[stars],
            )

    def _dispute(self, spec: DemoOrder, order: Order) -> None:
        delivery_steps.dispute_order(
            self.session, self._person(spec.agency, "approver"), order, spec.reason
        )

    def _pay(self, spec: DemoOrder, order: Order) -> None:
        self.payments += 1
        reference = f"SP2D-{self.today.year}-{spec.agency.upper()}-{self.payments:04d}"
        payments.record_transfer(
            self.session,
            self._person(spec.agency, "treasurer"),
            [order],
            payments.TransferDetails(
                reference=reference,
                paid_on=self.today,
                amount=payments.outstanding(self.session, order),
                payer_account="RKUD Provinsi DKI Jakarta",
                withholding_slips=[f"BP-{reference}"],
            ),
        )

    def _reconcile(self, spec: DemoOrder, order: Order) -> None:
        ordering.reconcile_order(self.session, self.users["finance@demo.go.id"], order)
