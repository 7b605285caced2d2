"""The kinds of notification: who gets each, its sentence, and how it is e-mailed by default."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from marketplace.accounts.models import Role
from marketplace.notifications.models import Delivery

JAKARTA = ZoneInfo("Asia/Jakarta")
IMMEDIATE, DIGEST = Delivery.IMMEDIATE, Delivery.DIGEST
VENDOR = frozenset({Role.VENDOR_OWNER, Role.VENDOR_STAFF})


@dataclass(frozen=True)
class Kind:
    name: str
    #: the sentence shown in the app and opening the e-mail; %(ref)s, %(agency)s, %(vendor)s
    message: LazyString
    #: how the person's choice is named on the preferences page
    label: LazyString
    #: e-mail when the person chose nothing: at once when someone must act, else the digest
    default: Delivery
    #: the roles that receive it (the preferences page shows a person only their kinds)
    roles: frozenset[Role]


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "order.approval_needed",
            _l("Order %(ref)s from %(agency)s waits for your approval."),
            _l("An order waits for my approval"),
            IMMEDIATE,
            frozenset({Role.APPROVER, Role.BUDGET_HOLDER}),
        ),
        Kind(
            "order.new_for_vendor",
            _l("New order %(ref)s from %(agency)s: accept or decline it."),
            _l("A new order for my business"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "order.approved",
            _l("Your order %(ref)s is approved and sent to %(vendor)s."),
            _l("My order is approved"),
            DIGEST,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.rejected",
            _l("Your order %(ref)s was rejected."),
            _l("My order is rejected"),
            IMMEDIATE,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.returned",
            _l("Your order %(ref)s was returned for changes."),
            _l("My order is returned for changes"),
            IMMEDIATE,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.accepted",
            _l("%(vendor)s accepted your order %(ref)s."),
            _l("The vendor accepted my order"),
            DIGEST,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.declined",
            _l("%(vendor)s declined your order %(ref)s."),
            _l("The vendor declined my order"),
            IMMEDIATE,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.expired",
            _l("Order %(ref)s expired: %(vendor)s did not answer in time."),
            _l("My order expired unanswered"),
            IMMEDIATE,
            frozenset({Role.REQUESTER}),
        ),
        Kind(
            "order.cancelled",
            _l("Order %(ref)s was cancelled."),
            _l("An order to my business is cancelled"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "order.delivered",
            _l("Order %(ref)s was delivered: confirm receipt."),
            _l("An order was delivered: confirm receipt"),
            IMMEDIATE,
            frozenset({Role.APPROVER}),
        ),
        Kind(
            "order.received",
            _l("%(agency)s confirmed receipt of order %(ref)s."),
            _l("The agency confirmed receipt"),
            DIGEST,
            VENDOR,
        ),
        Kind(
            "order.receipt_refused",
            _l("%(agency)s refused receipt of order %(ref)s; a curator will resolve it."),
            _l("The agency refused receipt"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "order.disputed",
            _l("Receipt of order %(ref)s was refused: resolve the dispute."),
            _l("A receipt is disputed: resolve it"),
            IMMEDIATE,
            frozenset({Role.CURATOR}),
        ),
        Kind(
            "order.paid",
            _l("Order %(ref)s was paid."),
            _l("An order to my business is paid"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "document.expiring",
            _l("A document of your business expires soon: upload a renewed one."),
            _l("A business document expires soon"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "reminder.acceptance_due",
            _l("Answer order %(ref)s from %(agency)s soon: it expires if you do not."),
            _l("The deadline to answer an order is near"),
            IMMEDIATE,
            VENDOR,
        ),
        Kind(
            "reminder.payment_due",
            _l("Payment of order %(ref)s to %(vendor)s is due soon."),
            _l("A payment deadline is near"),
            IMMEDIATE,
            frozenset({Role.TREASURER}),
        ),
        Kind(
            "reminder.receipt_overdue",
            _l("Receipt of order %(ref)s is overdue: confirm what arrived."),
            _l("Confirming a receipt is overdue"),
            IMMEDIATE,
            frozenset({Role.APPROVER}),
        ),
        Kind(
            "reminder.payment_overdue",
            _l("Payment of order %(ref)s to %(vendor)s is overdue."),
            _l("A payment is overdue"),
            IMMEDIATE,
            frozenset({Role.TREASURER}),
        ),
    )
}


def default_delivery(kind: str) -> Delivery:
    known = KINDS.get(kind)
    return known.default if known is not None else Delivery.IMMEDIATE


def kinds_for_roles(roles: set[Role]) -> list[Kind]:
    """The kinds a person with these roles can receive, in the catalogue's order."""
    return [kind for kind in KINDS.values() if kind.roles & roles]
