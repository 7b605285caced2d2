"""Typed domain errors that services raise and views turn into clear messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; `message` is shown to them."""

    status_code = 400

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class PermissionDenied(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class IllegalTransition(DomainError):
    """The object is not in a state that allows this action (e.g. approving a paid order)."""

    status_code = 409


class Conflict(DomainError):
    status_code = 409


class InsufficientBudget(DomainError):
    status_code = 409
