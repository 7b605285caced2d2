"""The buying side: cart, checkout, the order list and page, approvals, payment records."""

from __future__ import annotations

from datetime import time, timedelta

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, lazyload

from catalog.db import utcnow
from catalog.models import Product
from marketplace.accounts.recent import recent_login_required
from marketplace.audit.services import events_for
from marketplace.budgets.models import BudgetLine
from marketplace.budgets.services import chargeable_lines
from marketplace.db import get_session
from marketplace.delivery import services as delivery
from marketplace.documents import services as documents
from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.ordering import services
from marketplace.ordering.forms import (
    CartQuantityForm,
    ChangeOrderForm,
    CheckoutForm,
    ReasonForm,
)
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.services import JAKARTA
from marketplace.ordering.states import OrderAction, OrderStatus, event_label, status_label
from marketplace.permissions import (
    available_actions,
    can_act,
    can_correct_documents,
    can_download_accountability_bundle,
    has_any_permission,
    has_permission,
)
from marketplace.shop.views import AddToCartForm
from marketplace.web import order_rules, permission_required, show_error, today_in_jakarta

bp = Blueprint("ordering", __name__)
RECEIVE = OrderAction.RECEIVE
PAGE_SIZE = 30
#: orders per page of the approvals queue and of the deliveries to confirm
APPROVALS_PAGE_SIZE = 25


# Cart ------------------------------------------------------------------------------


def wants_json() -> bool:
    """Whether the page's script asked for a JSON answer instead of a redirect."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def cart_summary(db, orders: list[Order] | None = None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The cart's figures as the cart page shows them: each line, each vendor's subtotal,
    the total and the number of items, for the page's script to update in place."""
    if orders is None:
        orders = services.cart_orders(db, current_user)
    lines, vendors, total = [], [], 0
    for order in orders:
        subtotal = 0
        for line in order.lines:
            amount = line.product.price * line.quantity
            subtotal += amount
            lines.append(
                {
                    "id": line.id,
                    "quantity": line.quantity,
                    "total": amount,
                    "total_text": rupiah(amount),
                }
            )
        total += subtotal
        vendors.append(
            {"order_id": order.id, "subtotal": subtotal, "subtotal_text": rupiah(subtotal)}
        )
    return {
        "lines": lines,
        "orders": vendors,
        "order_ids": ",".join(str(order.id) for order in orders),
        "total": total,
        "total_text": rupiah(total),
        "count": len(lines),
    }


def json_refusal(message: object, status: int, line_id: int | None = None):  # type: ignore[no-untyped-def]
    return jsonify(ok=False, message=str(message), line_id=line_id), status


@bp.post("/cart/add/<int:product_id>")
@permission_required("order:submit")
def add_to_cart(product_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    # with its vendor (whether it can be ordered), without the photos no answer shows
    product = db.get(
        Product, product_id, options=[joinedload(Product.vendor), lazyload(Product.photos)]
    )
    if product is None:
        raise NotFound(_("No such product."))
    form = AddToCartForm()
    if not form.validate_on_submit():
        if wants_json():
            return json_refusal(form.quantity.errors[0] if form.quantity.errors else "", 400)
        return render_template(
            "shop/product.html", product=product, form=form, can_order=product.is_orderable
        ), 400
    if wants_json():
        try:
            services.add_to_cart(db, current_user, product, form.quantity.data or 0)
        except DomainError as error:
            db.rollback()
            return json_refusal(error.message, error.status_code)
        db.commit()
        message = _("%(name)s was added to your cart.", name=product.name)
        return jsonify(ok=True, message=message, **cart_summary(db))
    services.add_to_cart(db, current_user, product, form.quantity.data or 0)
    db.commit()
    flash(_("%(name)s was added to your cart.", name=product.name), "success")
    return redirect(url_for("ordering.cart"))


@bp.post("/cart/lines/<int:line_id>")
@permission_required("order:submit")
def update_cart_line(line_id: int):  # type: ignore[no-untyped-def]
    """Change a line's quantity (zero removes it). The page's script sends the same form with
    `Accept: application/json` and gets the cart's new figures, or the refusal, as JSON."""
    form = CartQuantityForm()
    as_json = wants_json()
    if not form.validate_on_submit():
        if as_json:
            return json_refusal(form.quantity.errors[0], 400, line_id)
        for message in form.quantity.errors:
            flash(str(message), "error")
        return redirect(url_for("ordering.cart"))
    db = get_session()
    quantity = form.quantity.data or 0
    if not as_json:
        services.set_cart_quantity(db, current_user, line_id, quantity)
        db.commit()
        flash(_("Your cart was updated."), "success")
        return redirect(url_for("ordering.cart"))
    line = db.get(OrderLine, line_id)
    name = line.product_name if line is not None else ""
    try:
        services.set_cart_quantity(db, current_user, line_id, quantity)
    except DomainError as error:
        db.rollback()
        return json_refusal(error.message, error.status_code, line_id)
    db.commit()
    if quantity == 0:
        message = _("%(name)s was removed from your cart.", name=name)
    else:
        message = _("%(name)s: quantity %(quantity)d.", name=name, quantity=quantity)
    return jsonify(ok=True, message=message, line_id=line_id, **cart_summary(db))


def _line_choice(line: BudgetLine) -> tuple[int, str]:
    return (
        line.id,
        _(
            "%(code)s · %(name)s (available %(amount)s)",
            code=line.account_code,
            name=line.name,
            amount=rupiah(line.available),
        ),
    )


def _fill_checkout_choices(db, form: CheckoutForm, orders: list[Order]) -> None:  # type: ignore[no-untyped-def]
    """Every budget line and saved address the requester can choose, as the page lists them."""
    agency_id = orders[0].agency_id if orders else services.requester_agency_id(current_user)
    lines = chargeable_lines(db, agency_id)
    form.budget_line_id.choices = [_line_choice(line) for line in lines]
    form.budget_lines = lines  # type: ignore[attr-defined]
    addresses = services.saved_addresses(db, agency_id)
    form.saved_address_id.choices = [(0, _("— type the address below —"))] + [
        (a.id, f"{a.label} · {a.address}") for a in addresses
    ]
    form.saved = {a.id: a for a in addresses}  # type: ignore[attr-defined]


def _fill_submitted_choices(db, form: CheckoutForm) -> bool:  # type: ignore[no-untyped-def]
    """The choices a submission needs to validate, when it names no saved address: the
    chosen line alone, if the requester may charge it. Most submissions succeed, so the
    page's lists are built only when the page is shown again. False when the full lists
    are needed."""
    if form.saved_address_id.data:
        return False
    form.saved_address_id.choices = [(0, "")]
    form.saved = {}  # type: ignore[attr-defined]
    line = db.get(BudgetLine, form.budget_line_id.data) if form.budget_line_id.data else None
    chargeable = (
        line is not None
        and not line.frozen
        and line.closed_at is None
        and has_permission(current_user, "order:submit", agency_id=line.agency_id)
    )
    form.budget_line_id.choices = [_line_choice(line)] if chargeable else []  # type: ignore[list-item]
    # held, so that the checkout finds the line in the session instead of reading it again
    form.budget_lines = [line] if chargeable else []  # type: ignore[attr-defined]
    return True


def _checkout_form(db, orders: list[Order]) -> CheckoutForm:  # type: ignore[no-untyped-def]
    form = CheckoutForm()
    _fill_checkout_choices(db, form, orders)
    form.order_ids.data = ",".join(str(order.id) for order in orders)
    tomorrow = (utcnow().astimezone(JAKARTA) + timedelta(days=2)).date()
    form.delivery_date.data = form.delivery_date.data or tomorrow
    form.delivery_time.data = form.delivery_time.data or time(12, 0)
    form.recipient_name.data = form.recipient_name.data or current_user.name
    agency = orders[0].agency if orders else None
    if agency is not None and not form.delivery_address.data:
        form.delivery_address.data = agency.address
    return form


@bp.route("/cart", methods=["GET", "POST"])
@permission_required("order:submit")
def cart():  # type: ignore[no-untyped-def]
    db = get_session()
    if request.method == "GET":
        orders = services.cart_orders(db, current_user)
        return render_template(
            "ordering/cart.html",
            orders=orders,
            form=_checkout_form(db, orders),
            quantity_form=CartQuantityForm(),
        )
    form = CheckoutForm()
    if not _fill_submitted_choices(db, form):
        _fill_checkout_choices(db, form, services.cart_orders(db, current_user))
    if form.validate_on_submit():
        ids = [
            int(part)
            for part in (form.order_ids.data or "").split(",")
            if part.isascii() and part.isdigit()
        ]
        saved = form.saved.get(form.saved_address_id.data or 0)  # type: ignore[attr-defined]
        details = services.CheckoutDetails(
            budget_line_id=form.budget_line_id.data,
            activity_name=form.activity_name.data or "",
            delivery_date=form.delivery_date.data,
            delivery_time=form.delivery_time.data,
            delivery_address=saved.address if saved else form.delivery_address.data or "",
            headcount=form.headcount.data,
            delivery_district=saved.district if saved else form.delivery_district.data or "",
            delivery_until=form.delivery_until.data,
            recipient_name=form.recipient_name.data or "",
            recipient_phone=form.recipient_phone.data or "",
            save_address_as=form.save_address_as.data or "",
            justification=form.justification.data or "",
            notes=form.notes.data or "",
        )
        try:
            submitted = services.checkout(db, current_user, ids, details, order_rules())
        except Conflict as error:
            db.rollback()
            flash(str(error.message), "error")
            return redirect(url_for("ordering.orders"))
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            refs = ", ".join(o.reference for o in submitted)
            first_id = submitted[0].id
            db.commit()
            flash(
                _(
                    "Submitted %(count)d order(s) for approval: %(refs)s. The budget is committed.",
                    count=len(submitted),
                    refs=refs,
                ),
                "success",
            )
            if len(submitted) == 1:
                return redirect(url_for("ordering.order", order_id=first_id))
            return redirect(url_for("ordering.orders"))
    # shown again with the errors: the page's full lists, as they are now
    orders = services.cart_orders(db, current_user)
    _fill_checkout_choices(db, form, orders)
    return render_template(
        "ordering/cart.html",
        orders=orders,
        form=form,
        quantity_form=CartQuantityForm(),
    ), 400


# Orders ----------------------------------------------------------------------------


@bp.get("/orders")
@login_required
def orders():  # type: ignore[no-untyped-def]
    db = get_session()
    status = request.args.get("status", "")
    query = services.visible_orders_query(current_user)
    if status in {s.value for s in OrderStatus}:
        query = query.where(Order.status == OrderStatus(status))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)
    rows = list(
        db.scalars(
            query.order_by(Order.id.desc()).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
        )
    )
    return render_template(
        "ordering/orders.html",
        orders=rows[:PAGE_SIZE],
        has_more=len(rows) > PAGE_SIZE,
        page=page,
        status=status,
        statuses=[s for s in OrderStatus if s is not OrderStatus.CART],
    )


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    item = services.get_visible_order(db, current_user, order_id)
    rules = order_rules()
    all_documents = documents.documents_of_order(db, item)
    receipt_due = (
        delivery.receipt_due_at(item, rules.receipt_due_days)
        if item.status is OrderStatus.DELIVERED
        else None
    )
    return render_template(
        "ordering/order.html",
        order=item,
        money=_payment_summary(db, item, rules),
        history=events_for(db, "order", item.id),
        actions=available_actions(current_user, item),
        actions_enum=OrderAction,
        event_label=event_label,
        status_label=status_label,
        reason_form=ReasonForm(),
        deadline=services.acceptance_deadline(item, rules),
        photos=delivery.order_photos(db, item),
        documents=all_documents,
        current_ids={d.id for d in documents.current_documents(db, item)},
        can_correct=can_correct_documents(current_user, item),
        can_spj=can_download_accountability_bundle(current_user, item),
        receipt_due=receipt_due,
        receipt_overdue=receipt_due is not None and receipt_due < utcnow(),
        can_repeat=item.status is not OrderStatus.CART
        and has_permission(current_user, "order:submit", agency_id=item.agency_id),
    )


def _payment_summary(db, order: Order, rules) -> dict[str, object] | None:  # type: ignore[no-untyped-def]
    """What the vendor is owed, has been paid and can expect, once the order is received."""
    from marketplace.payments import services as payments

    if order.received_at is None or order.received_total is None:
        return None
    owed = payments.net_payable(db, order)
    paid = payments.amount_paid(db, order.id)
    due = payments.payment_due_on(order, rules.payment_due_days)
    return {
        "net_payable": owed,
        "paid": paid,
        "outstanding": max(owed - paid, 0),
        "withheld": payments.withheld_taxes(db, order),
        "due_on": due,
        "overdue": due is not None and paid < owed and due < today_in_jakarta(),
        "payments": payments.payments_of_order(db, order.id),
    }


@bp.get("/approvals")
@permission_required("order:approve", "order:approve_second")
def approvals():  # type: ignore[no-untyped-def]
    db = get_session()
    deliveries = []
    if has_any_permission(current_user, "order:receive"):
        rows = delivery.awaiting_receipt(db, current_user, order_rules().receipt_due_days)
        deliveries = [(o, overdue) for o, overdue in rows if can_act(current_user, o, RECEIVE)]
    waiting = services.approval_queue(db, current_user)
    orders, orders_page, orders_pages = _one_page(waiting, "page")
    to_confirm, deliveries_page, deliveries_pages = _one_page(deliveries, "receipts_page")
    return render_template(
        "ordering/approvals.html",
        orders=orders,
        waiting_count=len(waiting),
        orders_page=orders_page,
        orders_pages=orders_pages,
        deliveries=to_confirm,
        deliveries_count=len(deliveries),
        deliveries_page=deliveries_page,
        deliveries_pages=deliveries_pages,
        receipt_due_days=order_rules().receipt_due_days,
    )


def _one_page(rows: list, argument: str) -> tuple[list, int, int]:  # type: ignore[type-arg]
    """The page of `rows` the URL asks for (oldest first), its number and the page count."""
    pages = max(1, -(-len(rows) // APPROVALS_PAGE_SIZE))
    page = min(max(request.args.get(argument, 1, type=int) or 1, 1), pages)
    start = (page - 1) * APPROVALS_PAGE_SIZE
    return rows[start : start + APPROVALS_PAGE_SIZE], page, pages


def _version() -> int | None:
    """The order version the person's page showed, if the form sent it."""
    return request.form.get("version", type=int)


def _order_for_action(order_id: int) -> Order:
    return services.get_visible_order(get_session(), current_user, order_id)


def _done(order: Order, message: str):  # type: ignore[no-untyped-def]
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("ordering.order", order_id=order.id))


def _reason_or_back(order: Order) -> str | None:
    form = ReasonForm()
    if form.validate_on_submit():
        return form.reason.data or ""
    flash(_("Give a reason."), "error")
    return None


@bp.post("/orders/<int:order_id>/approve")
@login_required
@recent_login_required
def approve(order_id: int):  # type: ignore[no-untyped-def]
    order = services.approve_order(
        get_session(), current_user, _order_for_action(order_id), version=_version()
    )
    if order.status is OrderStatus.SUBMITTED:
        return _done(order, _("Your approval is recorded. The budget holder approves next."))
    return _done(order, _("Order %(ref)s is approved and sent to the vendor.", ref=order.reference))


@bp.post("/orders/<int:order_id>/reject")
@login_required
def reject(order_id: int):  # type: ignore[no-untyped-def]
    order = _order_for_action(order_id)
    reason = _reason_or_back(order)
    if reason is None:
        return redirect(url_for("ordering.order", order_id=order.id))
    services.reject_order(get_session(), current_user, order, reason, version=_version())
    return _done(
        order, _("Order %(ref)s is rejected; its budget is released.", ref=order.reference)
    )


@bp.post("/orders/<int:order_id>/return")
@login_required
def return_for_changes(order_id: int):  # type: ignore[no-untyped-def]
    order = _order_for_action(order_id)
    reason = _reason_or_back(order)
    if reason is None:
        return redirect(url_for("ordering.order", order_id=order.id))
    services.return_order(get_session(), current_user, order, reason, version=_version())
    return _done(
        order, _("Order %(ref)s is returned to the requester for changes.", ref=order.reference)
    )


@bp.route("/orders/<int:order_id>/change", methods=["GET", "POST"])
@login_required
def change(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = _order_for_action(order_id)
    if not can_act(current_user, order, OrderAction.RESUBMIT):
        raise PermissionDenied(_("You cannot change this order now."))
    form = ChangeOrderForm()
    errors: dict[int, str] = {}
    if request.method == "GET":
        form.delivery_date.data = order.delivery_date
        form.delivery_time.data = order.delivery_time
    elif form.validate_on_submit():
        quantities = {}
        for line in order.lines:
            raw = request.form.get(f"quantity-{line.id}", "").strip()
            if not (raw.isascii() and raw.isdigit()) or int(raw) > services.MAX_LINE_QUANTITY:
                errors[line.id] = _("Enter a whole number, 0 to remove the item.")
            else:
                quantities[line.id] = int(raw)
        if not errors:
            change_request = services.OrderChange(
                quantities, form.delivery_date.data, form.delivery_time.data
            )
            try:
                services.change_order(db, current_user, order, change_request, order_rules())
            except Conflict:
                raise
            except DomainError as error:
                db.rollback()
                show_error(form, error)
                order = _order_for_action(order_id)
            else:
                db.commit()
                flash(
                    _(
                        "Order %(ref)s is changed and waits for approval again.",
                        ref=order.reference,
                    ),
                    "success",
                )
                return redirect(url_for("ordering.order", order_id=order.id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "ordering/change.html", order=order, form=form, errors=errors, values=request.form
    ), status


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int):  # type: ignore[no-untyped-def]
    order = _order_for_action(order_id)
    reason = _reason_or_back(order)
    if reason is None:
        return redirect(url_for("ordering.order", order_id=order.id))
    services.cancel_order(get_session(), current_user, order, reason)
    return _done(
        order, _("Order %(ref)s is cancelled; its budget is released.", ref=order.reference)
    )


@bp.post("/orders/<int:order_id>/repeat")
@permission_required("order:submit")
def repeat(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    added, unavailable = services.repeat_order(db, current_user, _order_for_action(order_id))
    db.commit()
    if added:
        flash(_("The items are in your cart at today's prices. Check them and submit."), "success")
    if unavailable:
        flash(_("No longer on sale: %(names)s.", names=", ".join(unavailable)), "error")
    return redirect(url_for("ordering.cart"))


@bp.post("/orders/<int:order_id>/reconcile")
@login_required
def reconcile(order_id: int):  # type: ignore[no-untyped-def]
    order = services.reconcile_order(get_session(), current_user, _order_for_action(order_id))
    return _done(order, _("Order %(ref)s is reconciled.", ref=order.reference))


@bp.get("/requests/<request_number>")
@login_required
def request_orders(request_number: str):  # type: ignore[no-untyped-def]
    rows = list(
        get_session().scalars(
            services.visible_orders_query(current_user)
            .where(Order.request_number == request_number)
            .order_by(Order.id)
        )
    )
    if not rows:
        raise NotFound(_("No such request."))
    return render_template(
        "ordering/orders.html",
        orders=rows,
        has_more=False,
        page=1,
        status="",
        statuses=[],
        request_number=request_number,
    )
