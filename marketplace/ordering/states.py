"""The order lifecycle: statuses, actions and the one transition table between them."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from marketplace.errors import IllegalTransition


class OrderStatus(StrEnum):
    CART = "cart"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    RECEIVED = "received"
    PAID = "paid"
    RECONCILED = "reconciled"
    REJECTED = "rejected"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])

    @property
    def is_final(self) -> bool:
        return not any(status is self for status, _action in TRANSITIONS)


STATUS_LABELS = {
    OrderStatus.CART: _l("In cart"),
    OrderStatus.SUBMITTED: _l("Waiting for approval"),
    OrderStatus.APPROVED: _l("Waiting for the vendor"),
    OrderStatus.ACCEPTED: _l("Accepted by the vendor"),
    OrderStatus.DELIVERED: _l("Delivered"),
    OrderStatus.RECEIVED: _l("Received"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.RECONCILED: _l("Reconciled"),
    OrderStatus.REJECTED: _l("Rejected"),
    OrderStatus.DECLINED: _l("Declined by the vendor"),
    OrderStatus.EXPIRED: _l("Expired"),
    OrderStatus.CANCELLED: _l("Cancelled"),
    OrderStatus.DISPUTED: _l("Disputed"),
    OrderStatus.RETURNED: _l("Returned for changes"),
}


class OrderAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    DELIVER = "deliver"
    RECEIVE = "receive"
    DISPUTE = "dispute"
    RESOLVE_ACCEPT = "resolve_accept"
    RESOLVE_CANCEL = "resolve_cancel"
    PAY = "pay"
    RECONCILE = "reconcile"
    RETURN = "return"
    RESUBMIT = "resubmit"

    @property
    def label(self) -> str:
        return str(ACTION_LABELS[self])


ACTION_LABELS = {
    OrderAction.SUBMIT: _l("Submit"),
    OrderAction.APPROVE: _l("Approve"),
    OrderAction.REJECT: _l("Reject"),
    OrderAction.CANCEL: _l("Cancel"),
    OrderAction.ACCEPT: _l("Accept"),
    OrderAction.DECLINE: _l("Decline"),
    OrderAction.EXPIRE: _l("Expire"),
    OrderAction.DELIVER: _l("Mark delivered"),
    OrderAction.RECEIVE: _l("Confirm receipt"),
    OrderAction.DISPUTE: _l("Refuse receipt"),
    OrderAction.RESOLVE_ACCEPT: _l("Resolve: accept"),
    OrderAction.RESOLVE_CANCEL: _l("Resolve: cancel"),
    OrderAction.PAY: _l("Record payment"),
    OrderAction.RECONCILE: _l("Reconcile"),
    OrderAction.RETURN: _l("Return for changes"),
    OrderAction.RESUBMIT: _l("Change and resubmit"),
}

S, A = OrderStatus, OrderAction

#: (from status, action) -> to status. Anything not listed is illegal.
TRANSITIONS: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.CART, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.APPROVE): S.APPROVED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.SUBMITTED, A.CANCEL): S.CANCELLED,
    (S.SUBMITTED, A.RETURN): S.RETURNED,
    (S.SUBMITTED, A.RESUBMIT): S.SUBMITTED,
    (S.RETURNED, A.RESUBMIT): S.SUBMITTED,
    (S.RETURNED, A.CANCEL): S.CANCELLED,
    (S.APPROVED, A.RESUBMIT): S.SUBMITTED,
    (S.APPROVED, A.ACCEPT): S.ACCEPTED,
    (S.APPROVED, A.DECLINE): S.DECLINED,
    (S.APPROVED, A.EXPIRE): S.EXPIRED,
    (S.APPROVED, A.CANCEL): S.CANCELLED,
    (S.ACCEPTED, A.DELIVER): S.DELIVERED,
    (S.DELIVERED, A.RECEIVE): S.RECEIVED,
    (S.DELIVERED, A.DISPUTE): S.DISPUTED,
    (S.DISPUTED, A.RESOLVE_ACCEPT): S.RECEIVED,
    (S.DISPUTED, A.RESOLVE_CANCEL): S.CANCELLED,
    (S.RECEIVED, A.PAY): S.PAID,
    (S.PAID, A.RECONCILE): S.RECONCILED,
}

#: the milestone timestamp column each target status sets
TIMESTAMP_FOR_STATUS = {
    S.SUBMITTED: "submitted_at",
    S.APPROVED: "approved_at",
    S.ACCEPTED: "accepted_at",
    S.DELIVERED: "delivered_at",
    S.RECEIVED: "received_at",
    S.PAID: "paid_at",
    S.RECONCILED: "reconciled_at",
    S.REJECTED: "rejected_at",
    S.DECLINED: "declined_at",
    S.EXPIRED: "expired_at",
    S.CANCELLED: "cancelled_at",
    S.DISPUTED: "disputed_at",
    S.RETURNED: "returned_at",
}

#: statuses in which the order's total is encumbered on its budget line
COMMITTED_STATUSES = frozenset(
    {S.SUBMITTED, S.RETURNED, S.APPROVED, S.ACCEPTED, S.DELIVERED, S.DISPUTED}
)

#: statuses of an order the vendor has accepted (it counts against the day's capacity)
ACCEPTED_STATUSES = frozenset(
    {S.ACCEPTED, S.DELIVERED, S.RECEIVED, S.PAID, S.RECONCILED, S.DISPUTED}
)

del S, A


def next_status(status: OrderStatus, action: OrderAction) -> OrderStatus:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(
            _l(
                "This order is %(status)s; it cannot be changed with “%(action)s”.",
                status=status.label.lower(),
                action=action.label,
            )
        ) from None


def allowed_actions(status: OrderStatus) -> list[OrderAction]:
    return [action for (source, action) in TRANSITIONS if source is status]


#: events recorded on an order that are not transitions
#: the events an order causes beyond its own transitions, shown in its history and the audit trail
OTHER_EVENT_LABELS = {
    "document.issue": _l("Document issued"),
    "document.correct": _l("Corrected document issued"),
    "budget.allocate": _l("Budget allocated"),
    "budget.reduce": _l("Budget allocation reduced"),
    "budget.commit": _l("Budget committed"),
    "budget.release": _l("Budget commitment released"),
    "budget.spend": _l("Budget spent"),
    "budget.refund": _l("Refund returned to the budget"),
    "payment.start": _l("Payment started"),
    "payment.hold": _l("Payment held"),
    "payment.succeed": _l("Payment succeeded"),
    "payment.fail": _l("Payment failed"),
    "payment.decline": _l("Payment declined"),
    "refund.request": _l("Refund requested"),
    "refund.succeed": _l("Refund received"),
    "refund.fail": _l("Refund failed"),
    "vendor.rate": _l("Vendor rated"),
}


def event_label(action: str) -> str:
    """A person's words for an order audit event such as "order.approve"."""
    if action in OTHER_EVENT_LABELS:
        return str(OTHER_EVENT_LABELS[action])
    name = action.removeprefix("order.")
    if name == "approve_first":
        return str(_l("First approval (the budget holder approves next)"))
    try:
        return OrderAction(name).label
    except ValueError:
        return action


def status_label(value: str | None) -> str:
    try:
        return OrderStatus(value).label if value else ""
    except ValueError:
        return value or ""
