"""The one place that talks to Stripe: a small interface, its implementation over the
`stripe` library, exact rupiah <-> minor-unit conversion, and webhook signature checks.

Nothing outside this module sees a Stripe object: every answer is a plain dict
(`StripeObject.to_dict()`), and every library error becomes a `GatewayError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import stripe

from marketplace.payments.models import Payment

log = logging.getLogger(__name__)

#: Stripe counts IDR in hundredths of a rupiah (it is not a zero-decimal currency there),
#: yet only accepts amounts that are whole rupiah.
CURRENCY = "idr"
MINOR_UNITS_PER_RUPIAH = 100
#: seconds one request to Stripe may take before the library gives up (and retries)
DEFAULT_TIMEOUT = 20
#: the library retries timeouts and connection errors with the same idempotency key
DEFAULT_NETWORK_RETRIES = 2
#: seconds a webhook's signed timestamp may be old (Stripe's own default)
DEFAULT_WEBHOOK_TOLERANCE = 300


class GatewayError(Exception):
    """Stripe could not be reached or refused the request; `message` says which."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        #: Stripe was not reached or failed on its side: the request may have been carried
        #: out, and repeating it with the same idempotency key is safe
        self.retryable = retryable


class WebhookRejected(Exception):
    """A webhook whose signature, timestamp or body cannot be trusted."""


class NotWholeRupiah(ValueError):
    """A Stripe amount that is not a whole number of rupiah."""


def to_minor_units(rupiah: int) -> int:
    if isinstance(rupiah, bool) or not isinstance(rupiah, int):
        raise TypeError(f"rupiah must be an int, not {type(rupiah).__name__}")
    return rupiah * MINOR_UNITS_PER_RUPIAH


def from_minor_units(minor: int) -> int:
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, not {type(minor).__name__}")
    rupiah, remainder = divmod(minor, MINOR_UNITS_PER_RUPIAH)
    if remainder:
        raise NotWholeRupiah(f"{minor} minor units is not a whole number of rupiah")
    return rupiah


def webhook_tolerance(configured: object) -> int:
    """The STRIPE_WEBHOOK_TOLERANCE to use. The library skips the timestamp check when the
    tolerance is 0 (a replayed old event would pass), so anything below 1 second, or not a
    number, is taken as the default, with a warning in the log."""
    if configured is None or configured == "":
        return DEFAULT_WEBHOOK_TOLERANCE
    try:
        seconds = int(configured)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        seconds = 0
    if seconds < 1:
        log.warning(
            "STRIPE_WEBHOOK_TOLERANCE=%r would not check webhook timestamps; using %s seconds",
            configured,
            DEFAULT_WEBHOOK_TOLERANCE,
        )
        return DEFAULT_WEBHOOK_TOLERANCE
    return seconds


def verify_webhook(payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict:
    """The event in `payload` (the raw request body), if Stripe signed it with `secret` no
    longer than `tolerance` seconds ago; otherwise WebhookRejected with a short reason.
    A tolerance below 1 second is taken as the default: the timestamp is always checked."""
    if tolerance < 1:
        tolerance = DEFAULT_WEBHOOK_TOLERANCE
    if not secret:
        raise WebhookRejected("webhook secret not configured")
    if not signature:
        raise WebhookRejected("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as error:
        reason = "timestamp too old" if "tolerance" in str(error) else "bad signature"
        raise WebhookRejected(reason) from None
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("body is not a JSON event") from None
    data = event.to_dict()
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise WebhookRejected("not an event")
    return data


def payment_metadata(payment: Payment) -> dict[str, str]:
    """What every Stripe object of a payment carries back to us in its events."""
    return {
        "payment_id": str(payment.id),
        # the attempt's own key: an id alone could be reused after a rolled-back attempt
        "payment_key": payment.idempotency_key or "",
        "agency_id": str(payment.agency_id),
        "vendor_id": str(payment.vendor_id),
        "orders": ",".join(allocation.order.reference for allocation in payment.allocations),
    }


class StripeGateway(Protocol):
    """What the card rail asks of Stripe. Answers are plain dicts in Stripe's shapes."""

    def create_checkout_session(
        self,
        payment: Payment,
        *,
        success_url: str,
        cancel_url: str,
        description: str,
        locale: str | None = None,
    ) -> tuple[str, str]:
        """A hosted Checkout page for the payment: (session id, URL to send the payer to)."""
        ...

    def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]: ...

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Close an unpaid Checkout page so that it can no longer be paid."""
        ...

    def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """The PaymentIntent with its latest charge and that charge's balance transaction."""
        ...

    def retrieve_balance_transaction(
        self, *, payment_intent: str | None = None, charge: str | None = None
    ) -> dict[str, Any] | None:
        """The balance transaction of a charge (given itself or by its PaymentIntent), with
        the charge id under "charge"; None while the charge has none."""
        ...

    def create_refund(
        self,
        payment_intent: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> dict[str, Any]: ...

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]: ...

    def list_balance_transactions(
        self,
        *,
        payout: str | None = None,
        type: str | None = None,
        created_from: int | None = None,
        created_before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Balance transactions (charges, refunds, fees, payouts), newest first, every page."""
        ...


class StripeClientGateway:
    """`StripeGateway` over `stripe.StripeClient`."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        max_network_retries: int = DEFAULT_NETWORK_RETRIES,
    ) -> None:
        if not api_key:
            raise GatewayError("Stripe is not configured.")
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result = method(*args, **kwargs)
        except stripe.APIConnectionError as error:
            log.warning("Stripe not reached: %s", error)
            raise GatewayError("Stripe could not be reached", retryable=True) from error
        except stripe.StripeError as error:
            log.warning("Stripe answered with an error: %r", error)
            raise GatewayError(
                error.user_message or type(error).__name__,
                code=error.code,
                retryable=(error.http_status or 0) >= 500,
            ) from error
        return result.to_dict()

    def create_checkout_session(
        self,
        payment: Payment,
        *,
        success_url: str,
        cancel_url: str,
        description: str,
        locale: str | None = None,
    ) -> tuple[str, str]:
        metadata = payment_metadata(payment)
        intent_data: dict[str, Any] = {"metadata": metadata, "description": description}
        if payment.destination_account:
            # a destination charge: the money lands in the vendor's connected account
            intent_data["transfer_data"] = {"destination": payment.destination_account}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": CURRENCY,
                        "unit_amount": to_minor_units(allocation.amount),
                        "product_data": {"name": allocation.order.reference},
                    },
                    "quantity": 1,
                }
                for allocation in payment.allocations
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": f"payment-{payment.id}",
            "metadata": metadata,
            "payment_intent_data": intent_data,
        }
        if locale:
            params["locale"] = locale
        session = self._call(
            self._client.v1.checkout.sessions.create,
            params,  # type: ignore[arg-type]
            options={"idempotency_key": payment.idempotency_key},
        )
        return session["id"], session["url"]

    def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        return self._call(self._client.v1.checkout.sessions.retrieve, session_id)

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        return self._call(self._client.v1.checkout.sessions.expire, session_id)

    def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return self._call(
            self._client.v1.payment_intents.retrieve,
            intent_id,
            {"expand": ["latest_charge.balance_transaction"]},
        )

    def retrieve_balance_transaction(
        self, *, payment_intent: str | None = None, charge: str | None = None
    ) -> dict[str, Any] | None:
        if charge is not None:
            charge_data = self._call(
                self._client.v1.charges.retrieve, charge, {"expand": ["balance_transaction"]}
            )
        elif payment_intent is not None:
            charge_data = self.retrieve_payment_intent(payment_intent).get("latest_charge")
        else:
            raise ValueError("give a payment_intent or a charge")
        if not isinstance(charge_data, dict):
            return None
        transaction = charge_data.get("balance_transaction")
        if isinstance(transaction, str):
            transaction = self._call(self._client.v1.balance_transactions.retrieve, transaction)
        if not isinstance(transaction, dict):
            return None
        return {**transaction, "charge": charge_data.get("id")}

    def create_refund(
        self,
        payment_intent: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> dict[str, Any]:
        return self._call(
            self._client.v1.refunds.create,
            {
                "payment_intent": payment_intent,
                "amount": amount_minor,
                "metadata": dict(metadata),
                "reason": "requested_by_customer",
            },
            options={"idempotency_key": idempotency_key},
        )

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        return self._call(self._client.v1.refunds.retrieve, refund_id)

    def list_balance_transactions(
        self,
        *,
        payout: str | None = None,
        type: str | None = None,
        created_from: int | None = None,
        created_before: int | None = None,
    ) -> list[dict[str, Any]]:
        return list(
            self._balance_transaction_pages(
                payout=payout, type=type, created_from=created_from, created_before=created_before
            )
        )

    def _balance_transaction_pages(
        self,
        *,
        payout: str | None,
        type: str | None,
        created_from: int | None,
        created_before: int | None,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100}
        if payout:
            params["payout"] = payout
        if type:
            params["type"] = type
        created: dict[str, int] = {}
        if created_from is not None:
            created["gte"] = created_from
        if created_before is not None:
            created["lt"] = created_before
        if created:
            params["created"] = created
        while True:
            page = self._call(self._client.v1.balance_transactions.list, params)
            rows = page.get("data") or []
            yield from rows
            if not page.get("has_more") or not rows:
                return
            params = {**params, "starting_after": rows[-1]["id"]}


def gateway_from_config(
    config: Mapping[str, Any],
    *,
    timeout: float | None = None,
    max_network_retries: int | None = None,
) -> StripeClientGateway:
    """The gateway the app's configuration describes (GatewayError when Stripe is off)."""
    return StripeClientGateway(
        config.get("STRIPE_SECRET_KEY", ""),
        api_base=config.get("STRIPE_API_BASE", ""),
        timeout=timeout if timeout is not None else config.get("STRIPE_TIMEOUT", DEFAULT_TIMEOUT),
        max_network_retries=(
            max_network_retries if max_network_retries is not None else DEFAULT_NETWORK_RETRIES
        ),
    )
