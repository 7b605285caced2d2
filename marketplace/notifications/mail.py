"""Sending e-mail: the one interface the outbox uses, and its SMTP implementation.

Nothing else in the application talks to a mail server. Errors come back as `MailError`,
which says whether trying again later can help and whether the server could be reached at
all (then the rest of a batch waits too).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str
    #: unique and stable across retries; becomes the Message-ID, so that a receiver can
    #: tell a repeated message from a new one
    key: str
    date: datetime
    #: extra headers, e.g. {"Auto-Submitted": "auto-generated"}
    headers: tuple[tuple[str, str], ...] = ()


class MailError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, unreachable: bool = False):
        super().__init__(message)
        #: the server refused this message for good (a 5xx answer): retrying will not help
        self.permanent = permanent
        #: no connection could be made: every other message would fail the same way now
        self.unreachable = unreachable


class MailSender:
    """Sends one message at a time. Used as a context manager around a batch, so that an
    implementation may keep one connection open for the batch."""

    def send(self, mail: OutgoingMail) -> None:
        raise NotImplementedError

    def __enter__(self) -> MailSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


def mail_domain(from_address: str) -> str:
    _name, address = parseaddr(from_address)
    return address.rpartition("@")[2] or "localhost"


def build_message(mail: OutgoingMail, from_address: str) -> EmailMessage:
    """A UTF-8 message with a plain-text part and, when given, an HTML alternative."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = Address(addr_spec=mail.to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<eorder.{mail.key}@{mail_domain(from_address)}>"
    for name, value in mail.headers:
        message[name] = value
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


class SmtpMailSender(MailSender):
    """Sends over SMTP with STARTTLS, implicit TLS ("ssl") or neither ("none", a local relay)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        from_address: str,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP security must be starttls, ssl or none, not {security!r}")
        self.host, self.port = host, port
        self.from_address = from_address
        self.security = security
        self.username, self.password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._connection: smtplib.SMTP | None = None
        self._batch = False

    # A connection per batch -----------------------------------------------------------

    def __enter__(self) -> SmtpMailSender:
        self._batch = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._batch = False
        self._disconnect()

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.security == "ssl":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                connection.ehlo()
                if self.security == "starttls":
                    connection.starttls(context=context)
                    connection.ehlo()
                if self.username:
                    connection.login(self.username, self.password)
            except BaseException:
                _close_quietly(connection)
                raise
        except (OSError, smtplib.SMTPException) as error:
            # Refused, timed out, TLS or login failed: nothing can be sent now.
            raise MailError(
                f"cannot connect to {self.host}:{self.port}: {_describe(error)}", unreachable=True
            ) from error
        return connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                _close_quietly(connection)

    # Sending --------------------------------------------------------------------------

    def send(self, mail: OutgoingMail) -> None:
        try:
            message = build_message(mail, self.from_address)
        except (ValueError, TypeError) as error:  # e.g. an address no header can hold
            raise MailError(
                f"cannot build the message: {_describe(error)}", permanent=True
            ) from error
        connection = self._connection or self._connect()
        envelope_from = parseaddr(self.from_address)[1]
        try:
            connection.send_message(message, from_addr=envelope_from, to_addrs=[mail.to])
        except smtplib.SMTPRecipientsRefused as error:
            self._after_error(connection)
            codes = [code for code, _text in _refusals(error.recipients).values()]
            raise MailError(
                f"recipient refused: {_describe(error)}",
                permanent=bool(codes) and all(500 <= code < 600 for code in codes),
            ) from error
        except smtplib.SMTPResponseException as error:
            self._after_error(connection)
            raise MailError(
                f"server answered {error.smtp_code}: {_describe(error)}",
                permanent=500 <= error.smtp_code < 600,
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            # The connection broke mid-message; the next message opens a new one.
            self._after_error(connection)
            raise MailError(f"sending failed: {_describe(error)}") from error
        self._connection = connection
        if not self._batch:
            self._disconnect()

    def _after_error(self, connection: smtplib.SMTP) -> None:
        self._connection = connection
        self._disconnect()


def _refusals(recipients: Mapping[str, Any]) -> dict[str, tuple[int, bytes]]:
    return {address: (int(answer[0]), answer[1]) for address, answer in recipients.items()}


def _describe(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:1000]


def _close_quietly(connection: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def sender_from_config(config: Mapping[str, Any]) -> SmtpMailSender | None:
    """The configured SMTP sender, or None when no SMTP host is set (messages then wait)."""
    if not config.get("SMTP_HOST"):
        return None
    return SmtpMailSender(
        config["SMTP_HOST"],
        int(config.get("SMTP_PORT") or 587),
        from_address=config["MAIL_FROM"],
        security=config.get("SMTP_SECURITY") or "starttls",
        username=config.get("SMTP_USERNAME") or "",
        password=config.get("SMTP_PASSWORD") or "",
        timeout=float(config.get("SMTP_TIMEOUT") or 30),
    )
