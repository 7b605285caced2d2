"""The physical half of an order: delivery with proof, receipt line by line, disputes.

Receipt is one transaction: the received quantities are recorded, the commitment turns into
spending for what arrived and the rest is released, the vendor's on-time record moves, and
the BAST and the invoice are issued with their numbers. Any failure undoes all of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, joinedload, lazyload

from catalog import photos
from catalog.db import utcnow
from catalog.models import Product, Vendor
from marketplace.accounts.models import User
from marketplace.budgets import services as ledger
from marketplace.delivery.models import OrderPhoto, PhotoPurpose
from marketplace.documents import services as documents
from marketplace.errors import DomainError
from marketplace.ordering.models import Order, ReceivedByCategory
from marketplace.ordering.rules import JAKARTA, OrderRules
from marketplace.ordering.services import (
    lock_order,
    release_commitment,
    require_action,
    require_reason,
    transition_order,
)
from marketplace.ordering.states import OrderAction, OrderStatus

#: photos a vendor may attach to a delivery, or an agency to a dispute
MAX_PHOTOS = 4
#: a handover time a little ahead of the server's clock is a clock difference, not fraud
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class LineReceipt:
    line_id: int
    quantity_received: int
    remark: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    """What the vendor reports when marking an order delivered."""

    #: when the food was handed over; None means now
    handed_over_at: datetime | None = None
    note: str = ""
    #: uploaded photo files (bytes), each checked by the same pipeline as product photos
    photos: Sequence[bytes | BinaryIO] = field(default_factory=tuple)


# Photos ------------------------------------------------------------------------------


def _store_photos(
    session: Session,
    actor: User,
    order: Order,
    uploads: Sequence[bytes | BinaryIO],
    purpose: PhotoPurpose,
    storage_dir: Path | None,
) -> list[str]:
    """Store every photo or none: a bad file refuses the whole step and leaves no files."""
    if not uploads:
        return []
    if len(uploads) > MAX_PHOTOS:
        raise DomainError(_l("Attach at most %(n)d photos.", n=MAX_PHOTOS), field="photos")
    if storage_dir is None:
        raise DomainError(_l("Photos cannot be saved right now. Try again later."), field="photos")
    keys: list[str] = []
    try:
        for upload in uploads:
            keys.append(photos.store_photo(upload, storage_dir).key)
    except photos.PhotoError as error:
        for key in keys:
            photos.delete_photo(key, storage_dir)
        raise DomainError(error.message, field="photos") from None
    except BaseException:  # a full disk, say: keep no files the database will not know
        for key in keys:
            photos.delete_photo(key, storage_dir)
        raise
    for key in keys:
        session.add(
            OrderPhoto(order_id=order.id, purpose=purpose, photo_key=key, uploaded_by_id=actor.id)
        )
    return keys


def order_photos(session: Session, order: Order) -> list[OrderPhoto]:
    return list(
        session.scalars(
            select(OrderPhoto).where(OrderPhoto.order_id == order.id).order_by(OrderPhoto.id)
        )
    )


# Delivery ----------------------------------------------------------------------------


def deliver_order(
    session: Session,
    actor: User,
    order: Order,
    report: DeliveryReport | None = None,
    *,
    storage_dir: Path | None = None,
) -> Order:
    report = report or DeliveryReport()
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.DELIVER)
    now = utcnow()
    handed_over_at = report.handed_over_at or now
    if handed_over_at.tzinfo is None:
        raise ValueError("handed_over_at must be timezone-aware")
    if handed_over_at > now + CLOCK_TOLERANCE:
        raise DomainError(_l("The handover time cannot be in the future."), field="handed_over_at")
    # Forms give the time to the minute: the minute of acceptance itself is fine.
    accepted_minute = (
        order.accepted_at.replace(second=0, microsecond=0) if order.accepted_at else None
    )
    if accepted_minute is not None and handed_over_at < accepted_minute:
        raise DomainError(
            _l("The handover time cannot be before the vendor accepted the order."),
            field="handed_over_at",
        )
    note = report.note.strip()
    keys = _store_photos(session, actor, order, report.photos, PhotoPurpose.DELIVERY, storage_dir)
    try:
        order.delivery_note = note
        order.handed_over_at = handed_over_at
        transition_order(
            session,
            order,
            OrderAction.DELIVER,
            actor,
            extra={"note": note, "handed_over_at": handed_over_at.isoformat(), "photos": keys},
        )
    except Exception:
        for key in keys:  # keep no files the database lost
            photos.delete_photo(key, storage_dir)  # type: ignore[arg-type]
        raise
    return order


def delivery_deadline(order: Order) -> datetime | None:
    """The end of the agreed delivery window (or its start, when no end was given)."""
    if order.delivery_date is None:
        return None
    moment = order.delivery_until or order.delivery_time
    if moment is None:
        return None
    return datetime.combine(order.delivery_date, moment, tzinfo=JAKARTA)


def delivered_on_time(order: Order) -> bool | None:
    """Whether the vendor's handover falls on the delivery day, by the end of the agreed
    window; None when unknown. Food handed over a day early is not on time either."""
    deadline = delivery_deadline(order)
    handed_over = order.handed_over_at or order.delivered_at
    if deadline is None or handed_over is None:
        return None
    return handed_over.astimezone(JAKARTA).date() == order.delivery_date and handed_over <= deadline


# Receipt -----------------------------------------------------------------------------


def _apply_receipt(
    session: Session,
    actor: User,
    order: Order,
    receipts: list[LineReceipt],
    action: OrderAction,
    on_time: bool | None,
    rules: OrderRules | None,
) -> None:
    by_id = {receipt.line_id: receipt for receipt in receipts}
    if set(by_id) != {line.id for line in order.lines}:
        raise DomainError(_l("Enter the quantity received for every line."))
    for line in order.lines:
        receipt = by_id[line.id]
        if not 0 <= receipt.quantity_received <= line.quantity:
            raise DomainError(
                _l(
                    "The quantity received of “%(name)s” must be between 0 and %(qty)d.",
                    name=line.product_name,
                    qty=line.quantity,
                ),
                field=f"line-{line.id}",
            )
        line.quantity_received = receipt.quantity_received
        line.receipt_remark = receipt.remark.strip()[:500]
    received_total = sum(line.received_line_total or 0 for line in order.lines)
    order.received_total = received_total
    order.received_by_id = actor.id
    order.on_time = delivered_on_time(order) if on_time is None else on_time
    budget_line = order.budget_line
    if budget_line is None:  # every submitted order has one; a receipt without it is corrupt
        raise DomainError(_l("This order has no budget line."))
    # The commitment becomes spending for what arrived; the rest goes back to the line.
    if received_total:
        ledger.spend(session, budget_line, received_total, actor=actor, order_id=order.id)
    if order.total - received_total:
        ledger.release(
            session,
            budget_line,
            order.total - received_total,
            actor=actor,
            order_id=order.id,
            reason="not received",
        )
    transition_order(
        session,
        order,
        action,
        actor,
        extra={
            "lines": {str(r.line_id): r.quantity_received for r in receipts},
            "on_time": order.on_time,
        },
    )
    _record_by_category(session, order)
    # The vendor's on-time record, moved in place so that concurrent receipts add up.
    session.execute(
        update(Vendor)
        .where(Vendor.id == order.vendor_id)
        .values(
            receipts_count=Vendor.receipts_count + 1,
            receipts_on_time=Vendor.receipts_on_time + (1 if order.on_time else 0),
        )
        .execution_options(synchronize_session=False)
    )
    # The UPDATE bypassed the vendor object this session may hold: reload its counters.
    held = session.identity_map.get(session.identity_key(Vendor, order.vendor_id))
    if held is not None:
        session.expire(held, ["receipts_count", "receipts_on_time"])
    rules = rules or OrderRules()
    documents.issue_receipt_documents(
        session, actor, order, payment_due_days=rules.payment_due_days
    )


def _record_by_category(session: Session, order: Order) -> None:
    """What the receipt spent per product category, for the spending report (the lines
    received in part or in full; nothing is written for a category received not at all)."""
    received = [line for line in order.lines if line.quantity_received]
    if not received or order.received_at is None:
        return
    category_of = dict(
        session.execute(
            select(Product.id, Product.category_id).where(
                Product.id.in_(sorted({line.product_id for line in received}))
            )
        ).all()
    )
    amounts: dict[int, int] = defaultdict(int)
    for line in received:
        amounts[category_of[line.product_id]] += line.received_line_total or 0
    session.add_all(
        ReceivedByCategory(
            order_id=order.id,
            category_id=category_id,
            agency_id=order.agency_id,
            received_at=order.received_at,
            amount=amount,
        )
        for category_id, amount in sorted(amounts.items())
    )


def receive_order(
    session: Session,
    actor: User,
    order: Order,
    receipts: list[LineReceipt],
    *,
    on_time: bool | None = None,
    version: int | None = None,
    rules: OrderRules | None = None,
) -> Order:
    """The approver confirms what arrived; `on_time` None takes the delivery window's verdict."""
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.RECEIVE)
    _apply_receipt(session, actor, order, receipts, OrderAction.RECEIVE, on_time, rules)
    return order


def dispute_order(
    session: Session,
    actor: User,
    order: Order,
    reason: str,
    *,
    photos_: Sequence[bytes | BinaryIO] = (),
    storage_dir: Path | None = None,
    version: int | None = None,
) -> Order:
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.DISPUTE)
    reason = require_reason(reason)
    keys = _store_photos(session, actor, order, photos_, PhotoPurpose.DISPUTE, storage_dir)
    try:
        transition_order(
            session, order, OrderAction.DISPUTE, actor, reason=reason, extra={"photos": keys}
        )
    except Exception:
        for key in keys:
            photos.delete_photo(key, storage_dir)  # type: ignore[arg-type]
        raise
    return order


def resolve_dispute_accept(
    session: Session,
    actor: User,
    order: Order,
    receipts: list[LineReceipt],
    *,
    on_time: bool | None = None,
    rules: OrderRules | None = None,
) -> Order:
    """The curator accepts the delivery as is or in part; receipt follows as usual."""
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.RESOLVE_ACCEPT)
    _apply_receipt(session, actor, order, receipts, OrderAction.RESOLVE_ACCEPT, on_time, rules)
    return order


def resolve_dispute_cancel(session: Session, actor: User, order: Order, reason: str) -> Order:
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.RESOLVE_CANCEL)
    reason = require_reason(reason)
    release_commitment(session, order, actor, "dispute cancelled")
    transition_order(session, order, OrderAction.RESOLVE_CANCEL, actor, reason=reason)
    return order


# Overdue receipts --------------------------------------------------------------------


def receipt_due_at(order: Order, due_days: int) -> datetime | None:
    if order.delivered_at is None:
        return None
    return order.delivered_at + timedelta(days=due_days)


def awaiting_receipt_query(agency_ids: Sequence[int]) -> Select[tuple[Order]]:
    return (
        select(Order)
        .where(Order.status == OrderStatus.DELIVERED, Order.agency_id.in_(agency_ids))
        .options(
            joinedload(Order.vendor),
            joinedload(Order.requester).lazyload(User.memberships),
            lazyload(Order.lines),
        )
        .order_by(Order.delivered_at, Order.id)
    )


def awaiting_receipt(
    session: Session, user: User, due_days: int, *, now: datetime | None = None
) -> list[tuple[Order, bool]]:
    """Delivered orders of the user's agencies not yet confirmed, each with whether it is
    overdue (delivered more than `due_days` days ago). Nothing is accepted automatically."""
    now = now or utcnow()
    rows = session.scalars(awaiting_receipt_query(sorted(user.agency_ids))).unique()
    result = []
    for order in rows:
        due = receipt_due_at(order, due_days)
        result.append((order, due is not None and due < now))
    return result
