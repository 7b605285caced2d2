"""How the demo walks each order through the real services, on a clock that can replay the past.

An order of the demo world whose story starts before today (placed last week, received three
weeks ago) is walked step by step with the clock of `catalog.db.utcnow` set back to the moment
the step would have happened: the services then check lead times, deadlines and due dates
exactly as they did then, and every timestamp, ledger row and audit event says when.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from catalog.db import clock_at, utcnow
from catalog.models import Product
from marketplace.accounts.models import User
from marketplace.budgets.models import BudgetLine
from marketplace.delivery import services as delivery_steps
from marketplace.demo_data import DemoOrder
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.services import JAKARTA, CheckoutDetails, OrderRules
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.ratings import services as ratings

#: how far before a past delivery the order was placed (longer than every lead time)
PAST_ORDER_LEAD = timedelta(days=5)

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

#: the treasury account every demo transfer is paid from
PAYER_ACCOUNT = "RKUD Provinsi DKI Jakarta"


def _jakarta(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=JAKARTA)


class OrderSteps:
    """The order part of the demo seeder: one method per lifecycle step."""

    session: Session
    rules: OrderRules
    now: datetime
    today: date
    users: dict[str, User]
    products: dict[tuple[str, str], Product]
    payments: int

    def _line(self, agency_key: str, code: str, year: int) -> BudgetLine:
        raise NotImplementedError

    def _person(self, agency_key: str, mailbox: str) -> User:
        return self.users[f"{mailbox}@{agency_key}.demo.go.id"]

    # When each step happened --------------------------------------------------------

    def _placed_at(self, spec: DemoOrder, delivery: datetime) -> datetime:
        if spec.placed is not None:
            return self.now - timedelta(days=spec.placed)
        # An order delivered in the past was placed a few days before its delivery.
        return self.now if delivery > self.now else delivery - PAST_ORDER_LEAD

    def _step_moment(self, step: str, spec: DemoOrder, order: Order) -> datetime | None:
        """When a step of an order with a replayed history happened; None: now."""
        if spec.placed is None:
            return None
        placed = self.now - timedelta(days=spec.placed)
        agreed = _jakarta(order.delivery_date, order.delivery_time)
        moments = {
            "approve": placed + timedelta(hours=1),
            "accept": placed + timedelta(hours=3),
            "deliver": agreed + timedelta(minutes=30),
            # the approver checks the delivery the next working morning
            "receive": _jakarta(order.delivery_date + timedelta(days=1), time(9, 30)),
        }
        if spec.paid_days_ago is not None:
            moments["pay"] = _jakarta(self.today - timedelta(days=spec.paid_days_ago), time(14))
        moment = moments.get(step)
        return moment if moment is not None and moment < self.now else None

    def _clock(self, moment: datetime | None) -> AbstractContextManager[None]:
        return clock_at(moment) if moment is not None else nullcontext()

    # The walk ------------------------------------------------------------------------

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
        delivery = _jakarta(delivery_date, spec.at)
        placed = self._placed_at(spec, delivery)
        line = self._line(spec.agency, spec.account_code, delivery_date.year)
        recipient, phone = spec.recipient or (requester.name, "021-3822-255")
        details = CheckoutDetails(
            budget_line_id=line.id,
            activity_name=spec.activity,
            delivery_date=delivery_date,
            delivery_time=spec.at,
            delivery_address=spec.address,
            headcount=spec.headcount,
            delivery_district="Gambir",
            delivery_until=(delivery + timedelta(minutes=30)).time(),
            recipient_name=recipient,
            recipient_phone=phone,
            notes=spec.notes,
        )
        with self._clock(placed if spec.placed is not None else None):
            [order] = ordering.checkout(
                self.session, requester, [order.id], details, self.rules, now=placed
            )
            self.session.flush()
        # An order above the threshold approved once stays submitted for the budget holder.
        steps = PATHS[status]
        if spec.second_approval_pending and order.needs_second_approval:
            steps = ("approve",)
        for step in steps:
            with self._clock(self._step_moment(step, spec, order)):
                getattr(self, f"_{step}")(spec, order)
                self.session.flush()
        if spec.partial_reason:  # a first transfer, the rest still owed
            with self._clock(self._step_moment("pay", spec, order)):
                self._pay(spec, order)
                self.session.flush()
        if spec.refund:  # the vendor gave some back after payment
            self._refund(spec, order)
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
        delivery = _jakarta(order.delivery_date, order.delivery_time)
        answered = min(utcnow(), delivery - timedelta(days=1))
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
        agreed = _jakarta(order.delivery_date, order.delivery_time)
        # Every third kitchen runs a little late, so that on-time rates differ.
        late = order.id % 3 == 0
        handed_over = min(utcnow(), agreed + timedelta(minutes=25 if late else -10))
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
        owed = payments.outstanding(self.session, order)
        # A partial transfer pays the share the treasurer had cash for, in whole thousands.
        amount = owed * spec.partial_percent // 100 // 1000 * 1000 if spec.partial_reason else owed
        payments.record_transfer(
            self.session,
            self._person(spec.agency, "treasurer"),
            [order],
            payments.TransferDetails(
                reference=reference,
                paid_on=utcnow().astimezone(JAKARTA).date(),
                amount=amount,
                payer_account=PAYER_ACCOUNT,
                withholding_slips=[f"BP-{reference}"],
                partial_reason=spec.partial_reason,
            ),
        )

    def _refund(self, spec: DemoOrder, order: Order) -> None:
        amount, reason = spec.refund
        [payment] = payments.payments_of_order(self.session, order.id)
        payments.request_refund(
            self.session,
            self._person(spec.agency, "treasurer"),
            payment,
            order,
            amount,
            reason,
            reference=f"STS-{self.today.year}-{spec.agency.upper()}-{order.id:04d}",
        )

    def _reconcile(self, spec: DemoOrder, order: Order) -> None:
        ordering.reconcile_order(self.session, self.users["finance@demo.go.id"], order)
