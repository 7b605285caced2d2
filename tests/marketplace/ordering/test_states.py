"""The order transition table, every status against every action."""

import pytest

from marketplace.errors import IllegalTransition
from marketplace.ordering.states import (
    TIMESTAMP_FOR_STATUS,
    TRANSITIONS,
    OrderAction,
    OrderStatus,
    allowed_actions,
    next_status,
)

EXPECTED = {
    ("cart", "submit"): "submitted",
    ("submitted", "approve"): "approved",
    ("submitted", "reject"): "rejected",
    ("submitted", "cancel"): "cancelled",
    ("submitted", "return"): "returned",
    ("submitted", "resubmit"): "submitted",
    ("returned", "resubmit"): "submitted",
    ("returned", "cancel"): "cancelled",
    ("approved", "resubmit"): "submitted",
    ("approved", "accept"): "accepted",
    ("approved", "decline"): "declined",
    ("approved", "expire"): "expired",
    ("approved", "cancel"): "cancelled",
    ("accepted", "deliver"): "delivered",
    ("delivered", "receive"): "received",
    ("delivered", "dispute"): "disputed",
    ("disputed", "resolve_accept"): "received",
    ("disputed", "resolve_cancel"): "cancelled",
    ("received", "pay"): "paid",
    ("paid", "reconcile"): "reconciled",
}


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("action", list(OrderAction))
def test_every_status_and_action(status: OrderStatus, action: OrderAction) -> None:
    expected = EXPECTED.get((status.value, action.value))
    if expected is None:
        with pytest.raises(IllegalTransition):
            next_status(status, action)
    else:
        assert next_status(status, action) is OrderStatus(expected)


def test_table_is_exactly_the_lifecycle_of_the_spec() -> None:
    assert {(s.value, a.value): t.value for (s, a), t in TRANSITIONS.items()} == EXPECTED


def test_final_states_allow_nothing() -> None:
    finals = {s for s in OrderStatus if s.is_final}
    assert {s.value for s in finals} == {
        "reconciled",
        "rejected",
        "declined",
        "expired",
        "cancelled",
    }
    for status in finals:
        assert allowed_actions(status) == []


def test_every_reachable_status_has_a_milestone_timestamp() -> None:
    from marketplace.ordering.models import Order

    for target in set(TRANSITIONS.values()):
        column = TIMESTAMP_FOR_STATUS[target]
        assert hasattr(Order, column), column


def test_illegal_transition_message_names_the_state() -> None:
    with pytest.raises(IllegalTransition) as info:
        next_status(OrderStatus.PAID, OrderAction.APPROVE)
    assert info.value.status_code == 409
    assert "paid" in str(info.value).lower()
