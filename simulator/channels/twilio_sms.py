"""Twilio Programmable Messaging: the bank's SMS (OTP codes, notifications, payment links, the
``SALDO`` keyword service) as Message resources and the status callbacks Twilio posts.

Outputs (``reference/channels.md`` §2):

``twilio/messages.jsonl``
    one Message resource per line, exactly as ``Messages.json`` lists it, in its state at the
    end of the simulated period; lines in ``date_created`` order.
``twilio/status_callbacks.jsonl``
    ``{"send_at": "...Z", "params": {form fields}}`` in ``send_at`` order: the form Twilio posts
    to the ``StatusCallback`` URL on each status change after the first (``queued``, ``sent``,
    then ``delivered`` | ``undelivered`` with ``ErrorCode``, or ``failed``). Some ``sent``
    callbacks arrive after the final one (Twilio does not promise order). Callbacks due after
    the end of the period are not written; the message then still shows the last status
    reached (``sent``, ``queued``) and no price yet.

Every message's ``status`` equals the highest-ranked status among its written callbacks (or
its initial status when none was written yet): the rule a pipeline must use to merge them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from simulator.channels.common import SortedJsonlWriter, hex_id, iso_z, rfc2822, rng_for

API_VERSION = "2010-04-01"
SHORT_CODE = "85432"  # the bank's Colombian short code (domestic mobiles)
LONG_CODE_US = "+17867460142"  # US long code for US mobiles (short codes do not cross borders)
ALPHA_SENDER = "BcoAndino"  # alphanumeric sender for MX/AR mobiles

#: status ranks for merging callbacks that arrive out of order (terminal states rank highest)
STATUS_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "receiving": 3, "received": 4, "delivered": 4, "undelivered": 4, "failed": 4,
    "read": 5, "canceled": 4,
}  # fmt: skip

# (error code, message) Twilio reports for undelivered / failed SMS
UNDELIVERED_ERRORS = (
    (30003, "Unreachable destination handset", 0.55),
    (30005, "Unknown destination handset", 0.15),
    (30006, "Landline or unreachable carrier", 0.08),
    (30008, "Unknown error", 0.22),
)
FAILED_ERRORS = (
    (21610, "Attempt to send to unsubscribed recipient", 0.6),
    (21614, "'To' number is not a valid mobile number", 0.4),
)
INTERNATIONAL_BLOCKED = (21408, "Permission to send an SMS has not been enabled for the region")

# USD per segment, per destination country (what the list shows in ``price``, negative)
PRICE_PER_SEGMENT = {"CO": 0.0458, "MX": 0.0415, "AR": 0.0702, "US": 0.0083}
INBOUND_PRICE = 0.0083

_GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = "^{}\\[~]|€"
_NOT_GSM7 = re.compile("[^" + re.escape(_GSM7_BASIC + _GSM7_EXTENDED) + "]")
_GSM7_EXTENDED_RE = re.compile("[" + re.escape(_GSM7_EXTENDED) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")  # emoji etc.: two UCS-2 units each


def sms_segments(body: str) -> int:
    """Segments Twilio bills: GSM-7 160/153 characters, else UCS-2 70/67 (``ó`` is UCS-2)."""
    if _NOT_GSM7.search(body) is None:
        units = len(body) + len(_GSM7_EXTENDED_RE.findall(body))  # extended characters take two
        return 1 if units <= 160 else -(-units // 153)
    units = len(body) + len(_ASTRAL.findall(body))
    return 1 if units <= 70 else -(-units // 67)


def sender_for(to_e164: str) -> str:
    if to_e164.startswith("+57"):
        return SHORT_CODE
    if to_e164.startswith("+1"):
        return LONG_CODE_US
    return ALPHA_SENDER


def dlr_done_date(dt: datetime) -> str:
    """Carrier delivery-report date as Twilio passes it through: ``YYMMDDhhmm``."""
    return dt.strftime("%y%m%d%H%M")


@dataclass(frozen=True, slots=True)
class Delivery:
    """The fate of one outbound message: the statuses it goes through, with their times."""

    steps: tuple[tuple[str, datetime], ...]  #: (status, time) after the initial status
    error: tuple[int, str] | None


def plan_delivery(rng: random.Random, created: datetime, to_e164: str) -> Delivery:
    """Draw the delivery outcome and timings of an outbound SMS to ``to_e164``."""
    t = created + timedelta(seconds=rng.uniform(0.05, 0.4))
    steps: list[tuple[str, datetime]] = [("queued", t)]
    x = rng.random()
    foreign = not to_e164.startswith("+57")
    if foreign and x < 0.01:
        return Delivery(tuple(steps + [("failed", t + timedelta(seconds=rng.uniform(0.1, 1)))]),
                        INTERNATIONAL_BLOCKED[:2])
    if x < 0.025:
        code, message = _weighted(rng, FAILED_ERRORS)
        return Delivery(tuple(steps + [("failed", t + timedelta(seconds=rng.uniform(0.1, 1)))]),
                        (code, message))
    t_sent = t + timedelta(seconds=rng.uniform(0.4, 3.0))
    steps.append(("sent", t_sent))
    if x < 0.025 + 0.045:
        code, message = _weighted(rng, UNDELIVERED_ERRORS)
        steps.append(("undelivered", t_sent + timedelta(seconds=rng.uniform(5, 240))))
        return Delivery(tuple(steps), (code, message))
    # most handsets confirm in seconds; a switched-off phone confirms when it comes back
    lag = rng.uniform(1.5, 15) if rng.random() < 0.93 else rng.uniform(60, 3 * 3600)
    steps.append(("delivered", t_sent + timedelta(seconds=lag)))
    return Delivery(tuple(steps), None)


def _weighted(rng: random.Random, table) -> tuple[int, str]:
    x = rng.random() * sum(w for *_, w in table)
    for code, message, w in table:
        x -= w
        if x < 0:
            return code, message
    return table[-1][0], table[-1][1]


@dataclass(frozen=True, slots=True)
class SentSms:
    sid: str
    status: str  #: at the end of the period
    delivered_at: datetime | None  #: when the handset got it (None: not delivered)


class TwilioSms:
    """Produces messages and callbacks for one simulated account; see the module docstring."""

    def __init__(self, out_dir: Path, seed: int, end: datetime) -> None:
        r = rng_for(seed, "twilio_account")
        self.account_sid = "AC" + hex_id(r)
        self.messaging_service_sid = "MG" + hex_id(r)
        self.seed = seed
        self.end = end
        self.messages = SortedJsonlWriter(out_dir / "twilio" / "messages.jsonl")
        self.callbacks = SortedJsonlWriter(out_dir / "twilio" / "status_callbacks.jsonl")

    def _uri(self, sid: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"

    def _resource(self, sid: str, *, from_: str, to: str, body: str, status: str,
                  direction: str, created: datetime, sent: datetime | None, updated: datetime,
                  price: float | None, error: tuple[int, str] | None) -> dict:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(created),
            "date_sent": rfc2822(sent) if sent else None,
            "date_updated": rfc2822(updated),
            "direction": direction,
            "error_code": error[0] if error else None,
            "error_message": error[1] if error else None,
            "from": from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(sms_segments(body)),
            "price": f"{-price:.5f}" if price is not None else None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": to,
            "uri": self._uri(sid),
        }

    def send(self, to_e164: str, country: str, body: str, created: datetime, key: str,
             direction: str = "outbound-api") -> SentSms:
        """An outbound SMS created at ``created``; ``key`` names it for its random stream."""
        rng = rng_for(self.seed, "sms", key)
        sid = "SM" + hex_id(rng)
        delivery = plan_delivery(rng, created, to_e164)
        from_ = sender_for(to_e164)
        # out of order: now and then the "sent" callback reaches the app after the final one
        late_sent = rng.random() < 0.04
        status, updated, sent_at = "accepted", created, None
        for name, at in delivery.steps:
            if at > self.end:
                break
            send_at = at + timedelta(seconds=rng.uniform(0.05, 0.6))
            if name == "sent" and late_sent and len(delivery.steps) == 3:
                final_at = delivery.steps[2][1]
                send_at = max(send_at, final_at + timedelta(seconds=rng.uniform(0.7, 4)))
            if name in ("sent", "failed"):
                sent_at = sent_at or at
            if send_at > self.end:
                # the period closes between the change and its callback (under a second, or a
                # late "sent"): the resource shows only what the callbacks told, so the two agree
                continue
            if STATUS_RANK[name] >= STATUS_RANK[status]:
                status, updated = name, at
            params = {
                "SmsSid": sid,
                "SmsStatus": name,
                "MessageStatus": name,
                "To": to_e164,
                "MessagingServiceSid": self.messaging_service_sid,
                "MessageSid": sid,
                "AccountSid": self.account_sid,
                "From": from_,
                "ApiVersion": API_VERSION,
            }
            if name in ("undelivered", "failed") and delivery.error:
                params = {"ErrorCode": str(delivery.error[0]), **params}
            if name in ("delivered", "undelivered"):
                params["RawDlrDoneDate"] = dlr_done_date(at)
            self.callbacks.push(send_at, {"send_at": iso_z(send_at), "params": params})
        terminal = status in ("delivered", "undelivered", "failed")
        unit = PRICE_PER_SEGMENT.get(country, 0.05)
        # Twilio fills the price in once the carrier rates the message; failed ones cost nothing
        price = None if status in ("failed", "accepted", "queued") or not terminal else unit * sms_segments(body)
        resource = self._resource(
            sid, from_=from_, to=to_e164, body=body, status=status, direction=direction,
            created=created, sent=sent_at if STATUS_RANK[status] >= STATUS_RANK["sent"] else None,
            updated=updated,
            price=price, error=delivery.error if status in ("undelivered", "failed") else None,
        )
        self.messages.push(created, resource)
        delivered_at = next((at for name, at in delivery.steps if name == "delivered" and at <= self.end), None)
        return SentSms(sid, status, delivered_at)

    def receive(self, from_e164: str, body: str, at: datetime, key: str) -> str:
        """An inbound SMS (a customer texting the short code). Returns its sid."""
        rng = rng_for(self.seed, "sms_in", key)
        sid = "SM" + hex_id(rng)
        self.messages.push(at, self._resource(
            sid, from_=from_e164, to=SHORT_CODE, body=body, status="received", direction="inbound",
            created=at, sent=at, updated=at, price=INBOUND_PRICE, error=None,
        ))
        return sid

    def reply(self, to_e164: str, country: str, body: str, created: datetime, key: str) -> SentSms:
        """An ``outbound-reply`` to an inbound SMS (same delivery model as :meth:`send`)."""
        return self.send(to_e164, country, body, created, key, direction="outbound-reply")

    def advance(self, watermark: datetime) -> None:
        self.messages.advance(watermark)
        self.callbacks.advance(watermark)

    def close(self) -> None:
        self.messages.close()
        self.callbacks.close()
