"""Senders per channel: e-mail over SMTP, and the adapter interface of the other gateways.

A sender takes one message and answers what its channel said: :class:`Answer` (taken, or
delivered, with the channel's own words as proof) or :class:`DeliveryError` (temporary: try
again later; permanent: the channel refused it for good). A channel without a sender — SMS,
WeChat, letter and the mobile app until the bank plugs in its gateway — keeps its messages
``QUEUED``: nothing is pretended to be sent.

Plugging in a gateway: write a class with ``send(message: Outgoing) -> Answer`` that calls the
gateway and returns its receipt (``Answer(delivered=False, proof=receipt)`` while the gateway
reports delivery later, ``delivered=True`` when its answer is final), raise
``DeliveryError(..., permanent=True)`` for a refusal, and list it in ``kehu.wiring.GATEWAYS``.
A gateway that reports delivery later also has ``receipt(message, sent_proof) -> Answer | None``
(:class:`ReceiptGateway`): each sweep asks it about its SENT messages; ``Answer(delivered=True,
proof=delivery_receipt)`` makes the message DELIVERED, None leaves it SENT.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from core.settings import SmtpSettings


@dataclass(frozen=True)
class Outgoing:
    """One message as a sender sees it."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class Answer:
    """What the channel said: the proof of delivery, and whether it is final."""

    proof: str
    delivered: bool


class DeliveryError(Exception):
    """The channel did not take the message (``permanent``: and never will)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, message: Outgoing) -> Answer: ...


class ReceiptGateway(Sender, Protocol):
    """A gateway that answers about delivery after taking the message (an SMS status report)."""

    def receipt(self, message: Outgoing, sent_proof: str) -> Answer | None: ...


class SmtpSender:
    """E-mail through the bank's SMTP server; its reply to the message is the proof.

    The server's ``250`` after the message text means it took responsibility for delivering it
    to the recipient, which is the last answer SMTP gives: the message counts as delivered.
    A ``5xx`` refusal of the recipient or the message is permanent; a ``4xx``, a connection
    problem or a refused login is retried.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: Outgoing) -> Answer:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        message_id = make_msgid(f"outbox-{message.id}", domain=s.sender.rsplit("@", 1)[1])
        mail["Message-ID"] = message_id
        # Base64 keeps the message 7-bit clean, so any SMTP server takes Chinese text.
        mail.set_content(message.body, charset="utf-8", cte="base64")
        # Only the recipient's or the message's refusal is final; a refused login or sender
        # is the bank's own configuration, retried until an operator fixes it.
        final = False
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                smtp.ehlo_or_helo_if_needed()
                if s.starttls:
                    smtp.starttls()
                    smtp.ehlo()
                if s.user and s.password:
                    smtp.login(s.user, s.password)
                code, reply = smtp.mail(s.sender)
                _check(code, reply)
                final = True
                code, reply = smtp.rcpt(message.recipient)
                _check(code, reply)
                code, reply = smtp.data(mail.as_bytes(policy=policy.SMTP))  # CRLF lines
                _check(code, reply)
        except smtplib.SMTPResponseException as exc:
            permanent = final and 500 <= exc.smtp_code < 600
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}") from None
        text = reply.decode("utf-8", "replace").strip()
        return Answer(proof=f"SMTP {code} {text} {message_id}", delivered=True)


def _check(code: int, reply: bytes) -> None:
    if not 200 <= code < 300:
        raise smtplib.SMTPResponseException(code, reply)


def senders_from(
    smtp: SmtpSettings | None, gateways: Mapping[str, Sender] | None = None
) -> dict[str, Sender]:
    """The sender of each configured channel: e-mail when SMTP is set, plus plugged gateways."""
    found: dict[str, Sender] = dict(gateways or {})
    if smtp is not None:
        found["EMAIL"] = SmtpSender(smtp)
    return found
