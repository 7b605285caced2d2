"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, and the app's
mail settings pointed at it for one test."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from marketplace.notifications.models import OutboxMessage


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """An aiosmtpd handler that keeps every message, and refuses recipients whose address
    starts with "bounce" (550), as a mailbox that does not exist."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.sink = SmtpSink()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.sink.messages

    def to(self, address: str) -> list[EmailMessage]:
        return self.sink.to(address)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


MAIL_SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "MAIL_FROM", "PUBLIC_BASE_URL")


@pytest.fixture
def point_mail_at(app):  # type: ignore[no-untyped-def]
    """point_mail_at(port) sets the app's SMTP settings to 127.0.0.1:port for this test."""
    saved = {name: app.config.get(name) for name in (*MAIL_SETTINGS, "ENV_NAME")}

    def _point(port: int) -> None:
        app.config.update(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=port,
            SMTP_SECURITY="none",
            MAIL_FROM="e-Order DKI <no-reply@eorder.jakarta.go.id>",
            PUBLIC_BASE_URL="https://eorder.jakarta.go.id",
        )

    yield _point
    app.config.update(saved)


@pytest.fixture
def mail(smtp_server, point_mail_at):  # type: ignore[no-untyped-def]
    """The app sends to the local SMTP server; the server is returned to read what arrived."""
    point_mail_at(smtp_server.port)
    return smtp_server


def outbox(db, **where) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    db.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    messages = list(db.scalars(query))
    db.commit()  # on SQLite an open transaction would hold the write lock against the worker
    return messages


def subject(message: EmailMessage) -> str:
    """The subject as a reader sees it (folding undone: Python's parser keeps the space of a
    fold right after "Subject:")."""
    return " ".join(str(message["Subject"]).split())


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
