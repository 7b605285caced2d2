"""The treasurer pays received orders by government card: Stripe Checkout, idempotency,
and why coming back from Stripe's page proves nothing."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from marketplace.ordering.states import OrderStatus
from marketplace.payments import services
from marketplace.payments.models import Payment, PaymentStatus
from tests.marketplace.payments.conftest import WEBHOOK, _configure
from tests.support import AgencyFactory, budget_line, user_with_roles

CHECKOUT = "/v1/checkout/sessions"


def payments_count(db) -> int:
    return int(db.scalar(select(func.count()).select_from(Payment)))


def test_checkout_asks_stripe_for_the_exact_amount_and_sends_the_treasurer_there(db, world, card):
    order = world.order_in(db, "received")
    owed = services.outstanding(db, order)
    assert owed > 0

    response = card.pay(order)

    payment = card.last_payment()
    [request] = card.stripe.requests_to("POST", CHECKOUT)
    session = card.stripe.sessions[payment.stripe_session_id]
    assert response.headers["Location"] == session["url"]
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == owed
    assert request.idempotency_key == payment.idempotency_key
    [item] = request.params["line_items"]
    assert item["price_data"]["currency"] == "idr"
    assert item["price_data"]["unit_amount"] == str(owed * 100)
    assert item["price_data"]["product_data"]["name"] == order.reference
    assert item["quantity"] == "1"
    assert session["amount_total"] == owed * 100
    assert request.params["mode"] == "payment"
    assert request.params["client_reference_id"] == f"payment-{payment.id}"
    assert request.params["metadata"]["payment_id"] == str(payment.id)
    assert request.params["payment_intent_data"]["metadata"]["payment_id"] == str(payment.id)
    assert "transfer_data" not in request.params["payment_intent_data"]
    assert request.params["success_url"].endswith(f"/payments/card/return?payment={payment.id}")
    assert request.params["cancel_url"].endswith(f"/payments/card/cancelled?payment={payment.id}")
    db.refresh(order)
    assert order.status is OrderStatus.RECEIVED
    assert card.audit_count("payment.start", payment.id) == 1


def test_a_vendor_with_a_connected_account_gets_a_destination_charge(db, world, card):
    world.vendor.stripe_account_id = "acct_1VendorJakarta"
    order = world.order_in(db, "received")

    card.pay(order)

    payment = card.last_payment()
    [request] = card.stripe.requests_to("POST", CHECKOUT)
    assert request.params["payment_intent_data"]["transfer_data"] == {
        "destination": "acct_1VendorJakarta"
    }
    assert payment.destination_account == "acct_1VendorJakarta"


def test_a_batch_for_one_vendor_is_one_session_with_a_line_per_order(db, world, card):
    first = world.order_in(db, "received", quantity=10)
    second = world.order_in(db, "received", quantity=7)
    owed = [services.outstanding(db, first), services.outstanding(db, second)]

    card.pay(first, second)

    payment = card.last_payment()
    [request] = card.stripe.requests_to("POST", CHECKOUT)
    amounts = sorted(int(i["price_data"]["unit_amount"]) for i in request.params["line_items"])
    assert amounts == sorted(a * 100 for a in owed)
    assert card.stripe.sessions[payment.stripe_session_id]["amount_total"] == sum(owed) * 100
    assert sorted(payment.order_ids) == sorted([first.id, second.id])


def test_coming_back_from_stripe_never_marks_the_orders_paid(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    # the payer paid on Stripe's page, but no webhook has arrived (yet)
    card.stripe.complete(payment.stripe_session_id, deliver=False)

    page = card.client.get(f"/payments/card/return?payment={payment.id}")

    assert page.status_code == 200
    assert "Waiting for Stripe’s confirmation" in page.get_data(as_text=True)
    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.PENDING
    assert order.status is OrderStatus.RECEIVED
    assert card.audit_count("payment.succeed") == 0


def test_the_return_page_shows_stripes_confirmation_once_it_arrived(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    card.stripe.complete(payment.stripe_session_id)

    page = card.client.get(f"/payments/card/return?payment={payment.id}")

    assert "Stripe confirmed the payment" in page.get_data(as_text=True)


def test_a_lost_answer_is_retried_with_the_same_idempotency_key_and_one_session(db, world, card):
    order = world.order_in(db, "received")
    # Stripe creates the session, then the connection drops before the answer arrives
    card.stripe.drop_next(path=CHECKOUT)

    card.pay(order)

    requests = card.stripe.requests_to("POST", CHECKOUT)
    payment = card.last_payment()
    assert [r.fault for r in requests] == ["dropped", ""]
    assert {r.idempotency_key for r in requests} == {payment.idempotency_key}
    assert len(card.stripe.sessions) == 1
    assert payments_count(db) == 1
    assert payment.stripe_session_id in card.stripe.sessions


def test_a_timeout_is_retried_with_the_same_idempotency_key(db, world, card):
    order = world.order_in(db, "received")
    # answered after the client's 1-second timeout
    card.stripe.delay_next(2.5, path=CHECKOUT)

    response = card.pay(order)

    requests = card.stripe.requests_to("POST", CHECKOUT)
    payment = card.last_payment()
    assert [r.fault for r in requests] == ["delayed", ""]
    assert {r.idempotency_key for r in requests} == {payment.idempotency_key}
    assert len(card.stripe.sessions) == 1
    assert response.headers["Location"] == card.stripe.sessions[payment.stripe_session_id]["url"]


def test_when_stripe_cannot_be_reached_nothing_is_left_behind(db, world, card):
    order = world.order_in(db, "received")
    card.stripe.drop_next(3, path=CHECKOUT)

    response = card.pay(order)

    assert response.headers["Location"].endswith("/payments/")
    with card.client.session_transaction() as browser:
        (category, message) = browser["_flashes"][-1]
    assert category == "error"
    assert "Stripe could not open the card payment page" in message
    assert len(card.stripe.requests_to("POST", CHECKOUT)) == 3  # the first try and 2 retries
    assert payments_count(db) == 0
    assert card.audit_count("payment.start") == 0
    assert services.pending_card_payment(db, order.id) is None
    db.refresh(order)
    assert order.status is OrderStatus.RECEIVED


def test_an_order_waiting_for_stripe_cannot_be_paid_twice(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)

    response = card.pay(order)

    assert response.headers["Location"].endswith("/payments/")
    with card.client.session_transaction() as browser:
        messages = [message for _category, message in browser["_flashes"]]
    assert any("waiting for Stripe" in m for m in messages)
    assert payments_count(db) == 1
    assert len(card.stripe.requests_to("POST", CHECKOUT)) == 1


def test_only_the_agencys_treasurer_can_pay_by_card(db, world, login, stripe):
    order = world.order_in(db, "received")
    other_agency = AgencyFactory()
    budget_line(db, other_agency, 1_000_000)
    from marketplace.accounts.models import Role

    foreign_treasurer = user_with_roles(db, Role.TREASURER, agency=other_agency)

    client = login(world.requester)
    assert client.post("/payments/card", data={"orders": [order.id]}).status_code == 403
    client = login(foreign_treasurer)
    assert client.post("/payments/card", data={"orders": [order.id]}).status_code == 404
    assert payments_count(db) == 0
    assert stripe.requests == []


def test_the_cancel_page_offers_to_go_back_to_stripe_or_give_up(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    session = card.stripe.sessions[payment.stripe_session_id]

    page = card.client.get(f"/payments/card/cancelled?payment={payment.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert session["url"] in text
    assert f"/payments/card/{payment.id}/abandon" in text

    response = card.client.post(f"/payments/card/{payment.id}/abandon")

    assert response.status_code == 303
    db.refresh(payment)
    assert payment.status is PaymentStatus.EXPIRED
    assert session["status"] == "expired"
    assert services.pending_card_payment(db, order.id) is None
    # and the order can be paid by card again, as a new attempt with its own key
    card.pay(order)
    again = card.last_payment()
    assert again.id != payment.id
    assert again.idempotency_key != payment.idempotency_key


@pytest.mark.parametrize("who", ["vendor_owner", "auditor"])
def test_only_the_treasurer_gets_the_live_stripe_page_from_the_cancel_page(
    db, world, card, login, who
):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    session = card.stripe.sessions[payment.stripe_session_id]
    asked = len(card.stripe.requests_to("GET", f"{CHECKOUT}/{payment.stripe_session_id}"))

    client = login(getattr(world, who))
    page = client.get(f"/payments/card/cancelled?payment={payment.id}")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert session["url"] not in text and "checkout.stripe.test" not in text
    assert f"/payments/card/{payment.id}/abandon" not in text
    # and Stripe is not asked for it on their visits
    assert len(card.stripe.requests_to("GET", f"{CHECKOUT}/{payment.stripe_session_id}")) == asked


def test_an_order_chosen_twice_is_paid_once(db, world, card):
    order = world.order_in(db, "received")
    owed = services.outstanding(db, order)

    response = card.pay(order, order)

    payment = card.last_payment()
    assert response.headers["Location"] == card.stripe.sessions[payment.stripe_session_id]["url"]
    assert payment.order_ids == [order.id] and payment.amount == owed
    [request] = card.stripe.requests_to("POST", CHECKOUT)
    assert len(request.params["line_items"]) == 1
    assert payments_count(db) == 1


def test_giving_up_a_page_that_was_paid_after_all_records_the_payment(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    card.stripe.complete(payment.stripe_session_id, deliver=False)

    card.client.post(f"/payments/card/{payment.id}/abandon")

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID


# Without Stripe keys ------------------------------------------------------------------


def test_without_stripe_keys_the_card_rail_is_hidden(db, world, login, no_stripe):
    order = world.order_in(db, "received")
    client = login(world.treasurer)

    assert client.post("/payments/card", data={"orders": [order.id]}).status_code == 404
    assert client.post(WEBHOOK, data=b"{}").status_code == 404
    to_pay_page = Path(__file__).parents[3] / "templates" / "payments" / "index.html"
    if not to_pay_page.exists():
        pytest.skip("the treasurer's to-pay page is not written yet")
    page = client.get("/payments/")
    assert page.status_code == 200
    assert "/payments/card" not in page.get_data(as_text=True)


def test_with_stripe_configured_the_to_pay_page_offers_the_card(db, world, card):
    world.order_in(db, "received")

    page = card.client.get("/payments/")

    assert page.status_code == 200
    assert 'formaction="/payments/card"' in page.get_data(as_text=True)


# CSRF ---------------------------------------------------------------------------------


@pytest.fixture
def csrf_stripe(csrf_app, fake_stripe):
    yield from _configure(
        csrf_app,
        {
            "STRIPE_SECRET_KEY": fake_stripe.api_key,
            "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret,
            "STRIPE_API_BASE": fake_stripe.url,
            "STRIPE_WEBHOOK_TOLERANCE": 300,
        },
    )


def test_starting_a_card_payment_needs_the_csrf_token_but_the_webhook_does_not(
    db, world, csrf_client, fake_stripe, csrf_stripe
):
    order = world.order_in(db, "received")

    refused = csrf_client.post("/payments/card", data={"orders": [order.id]})

    assert refused.status_code == 400
    event = fake_stripe._event("customer.created", {"id": "cus_1", "object": "customer"})
    body, headers = fake_stripe.signed(event)
    accepted = csrf_client.post(WEBHOOK, data=body, headers=headers)
    assert accepted.status_code == 200
    assert accepted.get_json() == {"received": True, "duplicate": False}
