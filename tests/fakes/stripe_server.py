"""A small fake of the parts of the Stripe API the card rail uses, served over real HTTP so
that the `stripe` library talks to it exactly as it talks to Stripe.

It keeps Checkout Sessions, PaymentIntents, charges, balance transactions, refunds and
payouts in memory, honours `Idempotency-Key` (same key and parameters -> the same answer,
other parameters -> 400), records every request, and lets a test act as the payer and as
Stripe's event sender: `complete`, `fail`, `expire`, `succeed_refund`, and `deliver` of
signed events (duplicated, shuffled, tampered, or stamped in the past). Events are handed to
`deliver_to(body, headers)`, which tests point at the Flask test client.

Faults: `drop_next()` processes the next matching request and then closes the connection
without answering (the answer is lost, as in a network cut); `delay_next(seconds)` answers
late (past the client's timeout). Both are how a retried request with the same idempotency
key is tested.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2025-01-27.acacia"
#: percent (in tenths) and fixed part (rupiah) of the fake's card fee
FEE_PER_MILLE = 29
FEE_FIXED_RUPIAH = 2_000

Deliver = Callable[[bytes, dict[str, str]], Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    authorization: str | None
    #: "dropped", "delayed" or "" (answered normally)
    fault: str = ""


@dataclass
class _Fault:
    kind: str  # "drop" or "delay"
    method: str
    path_prefix: str
    seconds: float = 0.0


@dataclass
class Delivery:
    event: dict[str, Any]
    status: int
    body: str


class StripeApiError(Exception):
    def __init__(
        self, status: int, message: str, *, kind: str = "invalid_request_error", code: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if code:
            self.body["error"]["code"] = code


# Form decoding as Stripe reads it: a[b][0][c]=v -> {"a": {"b": [{"c": "v"}]}}

_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise StripeApiError(400, f"Invalid parameter name {key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\]]*)\]", match.group(2))]
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def fee_for(amount_minor: int) -> int:
    """The fake's fee on a charge, in minor units, always whole rupiah."""
    rupiah = amount_minor // 100
    return ((rupiah * FEE_PER_MILLE + 500) // 1000 + FEE_FIXED_RUPIAH) * 100


class FakeStripe:
    """The fake Stripe: start() it, point the app's STRIPE_API_BASE at `url`."""

    def __init__(
        self,
        *,
        api_key: str = "sk_test_fake",
        webhook_secret: str = "whsec_fake",  # noqa: S107
    ):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.deliver_to: Deliver | None = None
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.balance_transactions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self._idempotent: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._clock = int(time.time())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Running ---------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Faults and the record of requests -------------------------------------------------

    def drop_next(self, times: int = 1, *, method: str = "POST", path: str = "/v1/") -> None:
        with self._lock:
            self._faults.extend(_Fault("drop", method, path) for _ in range(times))

    def delay_next(
        self, seconds: float, times: int = 1, *, method: str = "POST", path: str = "/v1/"
    ) -> None:
        with self._lock:
            self._faults.extend(_Fault("delay", method, path, seconds) for _ in range(times))

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # Ids and time ----------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}{secrets.token_hex(4)}"

    def now(self) -> int:
        """The fake's clock: real time, never going backwards, advanced by `tick`."""
        self._clock = max(self._clock, int(time.time()))
        return self._clock

    def tick(self, seconds: int = 1) -> int:
        self._clock = self.now() + seconds
        return self._clock

    # The API ---------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one API request (called by the HTTP handler, under the lock)."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise StripeApiError(401, "Invalid API Key provided.", kind="invalid_request_error")
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            fingerprint = json.dumps([path, params], sort_keys=True)
            if key in self._idempotent:
                seen, _params, status, body = self._idempotent[key]
                if seen != fingerprint:
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same"
                        " parameters they were first used with.",
                        kind="idempotency_error",
                    )
                return status, body
            status, body = self._route(method, path, params)
            self._idempotent[key] = (fingerprint, params, status, body)
            return status, body
        return self._route(method, path, params)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        routes: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("POST", r"/v1/checkout/sessions", self._create_session),
            ("GET", r"/v1/checkout/sessions/([^/]+)", self._get_session),
            ("POST", r"/v1/checkout/sessions/([^/]+)/expire", self._expire_session),
            ("GET", r"/v1/payment_intents/([^/]+)", self._get_payment_intent),
            ("GET", r"/v1/charges/([^/]+)", self._get_charge),
            ("POST", r"/v1/refunds", self._create_refund),
            ("GET", r"/v1/refunds/([^/]+)", self._get_refund),
            ("GET", r"/v1/balance_transactions", self._list_balance_transactions),
            ("GET", r"/v1/balance_transactions/([^/]+)", self._get_balance_transaction),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return 200, handler(params, *match.groups())
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _missing(kind: str, object_id: str) -> StripeApiError:
        return StripeApiError(404, f"No such {kind}: '{object_id}'", code="resource_missing")

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise StripeApiError(400, "mode must be payment")
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                raise StripeApiError(400, f"Missing required param: {name}.")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeApiError(400, "Missing required param: line_items.")
        total = 0
        currencies = set()
        for item in items:
            price = item.get("price_data") or {}
            amount = int(price.get("unit_amount", "-1"))
            quantity = int(item.get("quantity", "1"))
            currency = price.get("currency")
            if amount <= 0 or quantity <= 0 or not (price.get("product_data") or {}).get("name"):
                raise StripeApiError(400, "Invalid line item.")
            if currency == "idr" and amount % 100:
                raise StripeApiError(400, "IDR amounts must be whole rupiah (multiples of 100).")
            currencies.add(currency)
            total += amount * quantity
        if len(currencies) != 1:
            raise StripeApiError(400, "All line items must share one currency.")
        session_id = self._id("cs")
        intent_data = params.get("payment_intent_data") or {}
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "amount_subtotal": total,
            "currency": currencies.pop(),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "payment_intent": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "locale": params.get("locale"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "created": self.now(),
            "expires_at": self.now() + 24 * 3600,
            "livemode": False,
            # kept to build the PaymentIntent when the payer pays; not part of Stripe's shape
            "_intent_data": intent_data,
            "_line_items": items,
        }
        self.sessions[session_id] = session
        return self._public(session)

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in obj.items() if not key.startswith("_")}

    def _get_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise self._missing("checkout.session", session_id)
        return self._public(session)

    def _expire_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise self._missing("checkout.session", session_id)
        if session["status"] != "open":
            raise StripeApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This'
                f' Checkout Session has a status of "{session["status"]}".',
            )
        session["status"] = "expired"
        self._event("checkout.session.expired", self._public(session))
        return self._public(session)

    def _expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        result = json.loads(json.dumps(self._public(obj)))
        stores = {
            "latest_charge": self.charges,
            "balance_transaction": self.balance_transactions,
            "payment_intent": self.payment_intents,
        }
        for path in paths:
            node = result
            for part in path.split("."):
                value = node.get(part) if isinstance(node, dict) else None
                if isinstance(value, str) and part in stores and value in stores[part]:
                    value = json.loads(json.dumps(self._public(stores[part][value])))
                    node[part] = value
                node = value
        return result

    def _expansions(self, params: dict[str, Any]) -> list[str]:
        expand = params.get("expand") or []
        return [expand] if isinstance(expand, str) else list(expand)

    def _get_payment_intent(self, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise self._missing("payment_intent", intent_id)
        return self._expand(intent, self._expansions(params))

    def _get_charge(self, params: dict[str, Any], charge_id: str) -> dict[str, Any]:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise self._missing("charge", charge_id)
        return self._expand(charge, self._expansions(params))

    def _get_balance_transaction(self, params: dict[str, Any], txn_id: str) -> dict[str, Any]:
        txn = self.balance_transactions.get(txn_id)
        if txn is None:
            raise self._missing("balance_transaction", txn_id)
        return self._public(txn)

    def _list_balance_transactions(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = sorted(
            self.balance_transactions.values(), key=lambda t: (t["created"], t["id"]), reverse=True
        )
        if params.get("type"):
            rows = [t for t in rows if t["type"] == params["type"]]
        if params.get("payout"):
            rows = [t for t in rows if t.get("_payout") == params["payout"]]
        created = params.get("created") or {}
        if isinstance(created, dict):
            if "gte" in created:
                rows = [t for t in rows if t["created"] >= int(created["gte"])]
            if "lt" in created:
                rows = [t for t in rows if t["created"] < int(created["lt"])]
        if params.get("starting_after"):
            ids = [t["id"] for t in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        limit = int(params.get("limit", 10))
        page = rows[:limit]
        return {
            "object": "list",
            "url": "/v1/balance_transactions",
            "has_more": len(rows) > limit,
            "data": [self._public(t) for t in page],
        }

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            raise StripeApiError(400, "This PaymentIntent has no successful charge to refund.")
        charge = self.charges[intent["latest_charge"]]
        amount = int(params.get("amount", charge["amount"] - charge["amount_refunded"]))
        if amount <= 0 or amount > charge["amount"] - charge["amount_refunded"]:
            raise StripeApiError(
                400,
                "Refund amount is greater than unrefunded amount on charge.",
                code="charge_already_refunded",
            )
        refund_id = self._id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "metadata": params.get("metadata") or {},
            "reason": params.get("reason"),
            "status": "pending",
            "balance_transaction": None,
            "created": self.now(),
        }
        self.refunds[refund_id] = refund
        self._event("refund.created", refund)
        return refund

    def _get_refund(self, params: dict[str, Any], refund_id: str) -> dict[str, Any]:
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise self._missing("refund", refund_id)
        return dict(refund)

    # The payer and Stripe's back office (test controls) --------------------------------

    def _event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(self._public(obj)))},
        }
        self.events.append(event)
        return event

    def session_for(self, payment_id: int) -> dict[str, Any]:
        """The newest Checkout Session created for one of the app's payments."""
        found = [
            s for s in self.sessions.values() if s["metadata"].get("payment_id") == str(payment_id)
        ]
        assert found, f"no Checkout Session for payment {payment_id}"
        return self._public(found[-1])

    def _new_intent(self, session: dict[str, Any], status: str) -> dict[str, Any]:
        intent_data = session["_intent_data"]
        intent = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "status": status,
            "metadata": intent_data.get("metadata") or {},
            "description": intent_data.get("description"),
            "transfer_data": intent_data.get("transfer_data"),
            "latest_charge": None,
            "last_payment_error": None,
            "created": self.now(),
            "livemode": False,
        }
        self.payment_intents[intent["id"]] = intent
        session["payment_intent"] = intent["id"]
        return intent

    def complete(
        self, session_id: str, *, deliver: bool = True, order: str = "normal"
    ) -> list[dict[str, Any]]:
        """The payer pays on the hosted page: the intent, charge and balance transaction
        appear, and the two events follow (completed then succeeded, or `order="reversed"`).
        Returns the events; with `deliver` they are also sent to the app."""
        with self._lock:
            session = self.sessions[session_id]
            assert session["status"] == "open", f"session is {session['status']}"
            intent = self.payment_intents.get(session["payment_intent"] or "")
            if intent is None:
                intent = self._new_intent(session, "processing")
            charge_id = self._id("ch")
            txn_id = self._id("txn")
            fee = fee_for(intent["amount"])
            now = self.tick()
            self.balance_transactions[txn_id] = {
                "id": txn_id,
                "object": "balance_transaction",
                "amount": intent["amount"],
                "fee": fee,
                "net": intent["amount"] - fee,
                "currency": intent["currency"],
                "status": "pending",
                "type": "charge",
                "reporting_category": "charge",
                "source": charge_id,
                "created": now,
                "available_on": now + 2 * 86400,
                "fee_details": [
                    {"amount": fee, "currency": intent["currency"], "type": "stripe_fee"}
                ],
                "_payout": None,
            }
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": 0,
                "currency": intent["currency"],
                "paid": True,
                "refunded": False,
                "status": "succeeded",
                "payment_intent": intent["id"],
                "balance_transaction": txn_id,
                "transfer_data": intent["transfer_data"],
                "metadata": intent["metadata"],
                "created": now,
            }
            intent.update(
                status="succeeded",
                amount_received=intent["amount"],
                latest_charge=charge_id,
                last_payment_error=None,
            )
            session.update(status="complete", payment_status="paid")
            completed = self._event("checkout.session.completed", session)
            succeeded = self._event("payment_intent.succeeded", intent)
            self._event("charge.succeeded", self.charges[charge_id])
        events = [completed, succeeded] if order == "normal" else [succeeded, completed]
        if deliver:
            self.deliver(*events)
        return events

    def fail(
        self, session_id: str, *, message: str = "Your card was declined.", deliver: bool = True
    ) -> dict[str, Any]:
        """The payer's card is declined; the session stays open (Stripe lets them retry)."""
        with self._lock:
            session = self.sessions[session_id]
            intent = self.payment_intents.get(session["payment_intent"] or "")
            if intent is None:
                intent = self._new_intent(session, "requires_payment_method")
            intent.update(
                status="requires_payment_method",
                last_payment_error={
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": message,
                },
            )
            self.tick()
            event = self._event("payment_intent.payment_failed", intent)
        if deliver:
            self.deliver(event)
        return event

    def expire(self, session_id: str, *, deliver: bool = True) -> dict[str, Any]:
        """The session's time runs out unpaid."""
        with self._lock:
            self.tick()
            self._expire_session({}, session_id)
            event = self.events[-1]
        if deliver:
            self.deliver(event)
        return event

    def succeed_refund(self, refund_id: str, *, deliver: bool = True) -> list[dict[str, Any]]:
        """The bank confirms the refund: refund.updated and charge.refunded follow."""
        with self._lock:
            refund = self.refunds[refund_id]
            charge = self.charges[refund["charge"]]
            txn_id = self._id("txn")
            now = self.tick()
            self.balance_transactions[txn_id] = {
                "id": txn_id,
                "object": "balance_transaction",
                "amount": -refund["amount"],
                "fee": 0,
                "net": -refund["amount"],
                "currency": refund["currency"],
                "status": "available",
                "type": "refund",
                "reporting_category": "refund",
                "source": refund_id,
                "created": now,
                "available_on": now,
                "fee_details": [],
                "_payout": None,
            }
            refund.update(status="succeeded", balance_transaction=txn_id)
            charge["amount_refunded"] += refund["amount"]
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            events = [
                self._event("refund.updated", refund),
                self._event("charge.refunded", charge),
            ]
        if deliver:
            self.deliver(*events)
        return events

    def fail_refund(self, refund_id: str, *, deliver: bool = True) -> dict[str, Any]:
        with self._lock:
            refund = self.refunds[refund_id]
            refund.update(status="failed", failure_reason="expired_or_canceled_card")
            self.tick()
            event = self._event("refund.updated", refund)
        if deliver:
            self.deliver(event)
        return event

    def payout(self) -> dict[str, Any]:
        """Pay every balance transaction not yet paid out to the bank, as one payout."""
        with self._lock:
            payout_id = self._id("po")
            now = self.tick()
            included = [
                t
                for t in self.balance_transactions.values()
                if t["_payout"] is None and t["type"] in ("charge", "refund")
            ]
            total = sum(t["net"] for t in included)
            for txn in included:
                txn.update(status="available", _payout=payout_id)
            txn_id = self._id("txn")
            self.balance_transactions[txn_id] = {
                "id": txn_id,
                "object": "balance_transaction",
                "amount": -total,
                "fee": 0,
                "net": -total,
                "currency": "idr",
                "status": "available",
                "type": "payout",
                "reporting_category": "payout",
                "source": payout_id,
                "created": now,
                "available_on": now,
                "fee_details": [],
                "_payout": payout_id,
            }
            self.payouts[payout_id] = {
                "id": payout_id,
                "object": "payout",
                "amount": total,
                "currency": "idr",
                "status": "paid",
                "balance_transaction": txn_id,
                "created": now,
            }
            return dict(self.payouts[payout_id])

    # Sending events --------------------------------------------------------------------

    def signed(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        tamper: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for the event."""
        body = json.dumps(event, indent=2).encode()
        signature = sign(body, secret or self.webhook_secret, timestamp)
        if tamper:
            # the signature was made for the genuine body; the body then changed in transit
            body = body.replace(b'"livemode": false', b'"livemode": true ', 1)
            if b'"amount_total": ' in body:
                body = re.sub(rb'"amount_total": \d+', b'"amount_total": 100', body, count=1)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return body, headers

    def deliver(
        self,
        *events: dict[str, Any],
        times: int = 1,
        timestamp: int | None = None,
        secret: str | None = None,
        tamper: bool = False,
    ) -> list[Delivery]:
        """Send each event `times` times to `deliver_to`, in the order given."""
        assert self.deliver_to is not None, "set deliver_to before delivering events"
        results = []
        for event in events:
            for _ in range(times):
                body, headers = self.signed(
                    event, timestamp=timestamp, secret=secret, tamper=tamper
                )
                response = self.deliver_to(body, headers)
                delivery = Delivery(
                    event=event,
                    status=getattr(response, "status_code", 0),
                    body=response.get_data(as_text=True)
                    if hasattr(response, "get_data")
                    else str(response),
                )
                self.deliveries.append(delivery)
                results.append(delivery)
        return results

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is part of the fault tests


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        query = parse_qsl(parts.query, keep_blank_values=True)
        form = parse_qsl(raw, keep_blank_values=True) if method == "POST" else []
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.stripe
        with fake._lock:
            fault = next(
                (
                    f
                    for f in fake._faults
                    if f.method == method and parts.path.startswith(f.path_prefix)
                ),
                None,
            )
            if fault is not None:
                fake._faults.remove(fault)
            try:
                params = decode_form([*query, *form])
                status, body = fake.handle(method, parts.path, params, headers)
            except StripeApiError as error:
                params = {}
                status, body = error.status, error.body
            fake.requests.append(
                RecordedRequest(
                    method=method,
                    path=parts.path,
                    params=params,
                    idempotency_key=headers.get("idempotency-key"),
                    authorization=headers.get("authorization"),
                    fault={"drop": "dropped", "delay": "delayed"}.get(
                        fault.kind if fault else "", ""
                    ),
                )
            )
        if fault is not None and fault.kind == "drop":
            # processed, but the answer never reaches the client
            self.close_connection = True
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
            if method == "POST" and headers.get("idempotency-key"):
                self.send_header("Idempotency-Key", headers["idempotency-key"])
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
