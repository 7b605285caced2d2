"""Writing notification e-mails in the recipient's language, with absolute links.

Needs an application context (templates, translations, configuration), which every request
and `flask` command has; no request is needed, so links are built from PUBLIC_BASE_URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale, format_date, format_time, get_locale, ngettext
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.i18n import rupiah
from marketplace.notifications.kinds import JAKARTA, KINDS
from marketplace.notifications.models import Notification
from marketplace.ordering.models import Order

#: (label, value) lines shown under the sentence
Facts = list[tuple[str, str]]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestItem:
    sentence: str
    link: str
    #: when it happened, written out
    when: str


def moment(value: datetime) -> str:
    """A date and time as people write it, in Jakarta time: "3 Des 2026, 11.30"."""
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link under PUBLIC_BASE_URL, built the same with or without a request."""
    base = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "http://localhost")
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def recipient_locale(user: User) -> str:
    config = current_app.config
    return user.locale if user.locale in config["LANGUAGES"] else config["BABEL_DEFAULT_LOCALE"]


def sentence(kind: str, order: Order | None) -> str:
    """The kind's sentence about the order, in the current language."""
    known = KINDS.get(kind)
    if known is None:
        return kind
    if order is None:
        return str(known.message) if "%(" not in str(known.message) else kind
    return str(known.message) % {
        "ref": order.reference,
        "agency": order.agency.name,
        "vendor": order.vendor.trading_name,
    }


def notification_link(kind: str, order_id: int | None) -> str:
    if order_id is not None:
        return public_url("ordering.order", order_id=order_id)
    if kind.startswith("document."):
        return public_url("vendor.documents_page")
    return public_url("notifications.index")


def order_facts(order: Order) -> Facts:
    facts: Facts = [
        (_("Agency"), order.agency.name),
        (_("Vendor"), order.vendor.trading_name),
    ]
    if order.activity_name:
        facts.append((_("Activity"), order.activity_name))
    if order.delivery_date and order.delivery_time:
        delivery = datetime.combine(order.delivery_date, order.delivery_time, tzinfo=JAKARTA)
        facts.append((_("Delivery time"), moment(delivery)))
    amount = order.received_total if order.received_total is not None else order.total
    facts.append((_("Total"), rupiah(amount)))
    if order.status_reason:
        facts.append((_("Reason given"), order.status_reason))
    return facts


def _subject(text: str) -> str:
    return "e-Order: " + " ".join(text.split()).rstrip(".")


def _render(name: str, user: User, subject: str, **context: Any) -> tuple[str, str]:
    env = current_app.jinja_env
    context = {
        "user": user,
        "subject": subject,
        "lang": str(get_locale() or "id"),
        "preferences_url": public_url("notifications.preferences_page"),
        "notifications_url": public_url("notifications.index"),
        **context,
    }
    text = env.get_template(f"emails/{name}.txt").render(**context)
    html = env.get_template(f"emails/{name}.html").render(**context)
    return text, html


def notification_email(
    user: User,
    kind: str,
    *,
    order: Order | None = None,
    facts: Callable[[], Facts] | None = None,
    link: str | None = None,
) -> RenderedEmail:
    """One notification as an e-mail: its sentence (also the subject), the facts of the
    order and any extra ones, and a link to act on it."""
    with force_locale(recipient_locale(user)):
        line = sentence(kind, order)
        all_facts = (order_facts(order) if order is not None else []) + (facts() if facts else [])
        target = link or notification_link(kind, order.id if order is not None else None)
        link_label = (
            _("Open order %(ref)s", ref=order.reference) if order is not None else _("Open e-Order")
        )
        subject = _subject(line)
        text, html = _render(
            "notification",
            user,
            subject,
            sentence=line,
            facts=all_facts,
            link=target,
            link_label=link_label,
        )
        return RenderedEmail(subject, text, html)


def digest_email(user: User, notifications: Sequence[Notification]) -> RenderedEmail:
    """The day's notifications in one e-mail, oldest first."""
    with force_locale(recipient_locale(user)):
        items = [
            DigestItem(
                sentence(n.kind, n.order),
                notification_link(n.kind, n.order_id),
                moment(n.created_at),
            )
            for n in notifications
        ]
        heading = ngettext(
            "Your daily summary: %(num)d notification",
            "Your daily summary: %(num)d notifications",
            len(items),
        )
        subject = _subject(heading)
        text, html = _render("digest", user, subject, items=items, heading=heading)
        return RenderedEmail(subject, text, html)
