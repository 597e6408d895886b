"""Webex Calling CDR records exactly as ``cdr_feed`` / ``cdr_stream`` return them.

One record = one party's view of one call leg (``reference/webex.md`` §1.6–1.9). Every record
carries all 87 keys of a 2026 ``cdr_feed`` response, in that order, with the real-payload
spellings (``Call transfer time``, ``PSTN vendor name``, ``Hold duration``…). A small share of
records (chosen from the ``Report ID``, deterministic) uses the spec/wxc_sdk spellings instead
(``Call transfer Time``, ``PSTN Vendor Name``, ``Hold Duration``…), as the reference says both
circulate: a loader must normalise keys. Value conventions: missing values are ``""``; some
are ``"NA"`` (``Called line ID`` of PSTN parties, ``Public Calling/Called IP Address``,
``Auto Attendant Key Pressed`` outside auto attendants) or ``"na"`` (``OS type`` of devices and
services); booleans are the strings ``"true"``/``"false"``; ``Duration`` and ``Hold duration``
are JSON integers (floor seconds); ``Ring duration`` is a string of digits; ``Site timezone`` is
a string of minutes (``"-300"``); timestamps are UTC ISO-8601 with milliseconds and ``Z``.

:class:`Leg` is the simulator's mutable view of a record while the call is going on;
:meth:`Leg.render` turns it into the record dict.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

__all__ = [
    "KEYS",
    "SPEC_SPELLING",
    "TEMPLATE",
    "IdSource",
    "Leg",
    "iso_ms",
]

#: the 87 keys of a 2026 ``cdr_feed`` record, in the observed order, real-payload spellings
KEYS: tuple[str, ...] = (
    "Answer time", "Answered", "Direction", "Called line ID", "Call ID", "Calling line ID",
    "Start time", "Call type", "Client type", "Client version", "Correlation ID",
    "International country", "Device MAC", "Duration", "Inbound trunk", "Org UUID",
    "Original reason", "OS type", "Outbound trunk", "Redirect reason", "Related reason",
    "Report ID", "Report time", "Route group", "Site main number", "Site timezone",
    "Sub client type", "User UUID", "User type", "User", "Called number", "Calling number",
    "Location", "Dialed digits", "Releasing party", "Redirecting number", "Site UUID",
    "Department ID", "Transfer related call ID", "Authorization code", "Model",
    "Local SessionID", "Remote SessionID", "Call transfer time", "Local call ID",
    "Remote call ID", "Network call ID", "Related call ID", "User number", "Call outcome",
    "Call outcome reason", "Ring duration", "Answer indicator", "Release time",
    "Final local SessionID", "Final remote SessionID", "PSTN legal entity",
    "PSTN vendor org ID", "PSTN vendor name", "PSTN provider ID", "External customer ID",
    "Redirecting party UUID", "Public Calling IP Address", "Public Called IP Address",
    "Caller ID number", "External caller ID number", "Device owner UUID",
    "Call Recording Platform Name", "Call Recording Result", "Call Recording Trigger",
    "Original called party UUID", "Recall type", "Auto Attendant Key Pressed", "Queue type",
    "Answered elsewhere", "Hold duration", "Route list calls overage", "Caller Reputation Score",
    "Caller Reputation Service Result", "Caller Reputation Score Reason", "Interaction ID",
    "WxCC consult merge status", "ELIN", "Emergency number source", "Transfer type",
    "Transfer type context", "Answer reason",
)  # fmt: skip
assert len(KEYS) == 87 and len(set(KEYS)) == 87

#: real-payload spelling → OpenAPI spec / wxc_sdk spelling (case only), reference §1.6
SPEC_SPELLING: dict[str, str] = {
    "Call transfer time": "Call transfer Time",
    "PSTN legal entity": "PSTN Legal Entity",
    "PSTN vendor org ID": "PSTN Vendor Org ID",
    "PSTN vendor name": "PSTN Vendor Name",
    "PSTN provider ID": "PSTN Provider ID",
    "Original called party UUID": "Original Called Party UUID",
    "Recall type": "Recall Type",
    "Queue type": "Queue Type",
    "Answered elsewhere": "Answered Elsewhere",
    "Hold duration": "Hold Duration",
}
#: share of records written with the spec spellings (decided from the Report ID)
SPEC_SPELLING_SHARE = 0.02

TEMPLATE: dict[str, object] = dict.fromkeys(KEYS, "")
TEMPLATE.update(
    {
        "Answered": "false",
        "Duration": 0,
        "Hold duration": 0,
        "Ring duration": "0",
        "Site timezone": "-300",
        "OS type": "na",
        "Public Calling IP Address": "NA",
        "Public Called IP Address": "NA",
        "Auto Attendant Key Pressed": "NA",
        "Call outcome": "Success",
        "Call outcome reason": "Normal",
        "Answer indicator": "No",
    }
)

_DAY_CACHE: dict[int, str] = {}
_HMS = [f"{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)]
_HMS6 = [f"{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_MS3 = [f"{m:03d}" for m in range(1000)]
_MDY: dict[int, str] = {}
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_MSZ = [f"{m:03d}Z" for m in range(1000)]


def iso_ms(ms: int) -> str:
    """``2026-03-10T14:02:05.412Z`` for UTC epoch milliseconds."""
    s, m = divmod(ms, 1000)
    d, sod = divmod(s, 86400)
    head = _DAY_CACHE.get(d)
    if head is None:
        head = datetime.fromtimestamp(d * 86400, UTC).strftime("%Y-%m-%dT")
        _DAY_CACHE[d] = head
    return head + _HMS[sod] + _MSZ[m]


class Leg:
    """One CDR record being built: field overrides plus the leg's times in epoch ms.

    ``f`` holds every key whose value differs from :data:`TEMPLATE` except the four times,
    ``Answered``, ``Duration``, ``Ring duration`` and ``Answer indicator``, which
    :meth:`render` derives from ``start``/``answer``/``release``/``ring_ms``.
    """

    __slots__ = ("f", "start", "answer", "release", "ring_ms", "report", "answer_indicator")

    def __init__(self, f: dict, start: int) -> None:
        self.f = f
        self.start = start
        self.answer: int | None = None
        self.release: int = start
        self.ring_ms: int = 0
        self.report: int = 0
        self.answer_indicator = "Yes"

    def render(self) -> dict:
        r = TEMPLATE.copy()
        r.update(self.f)
        r["Start time"] = iso_ms(self.start)
        r["Release time"] = iso_ms(self.release)
        r["Report time"] = iso_ms(self.report)
        if self.answer is not None:
            r["Answer time"] = iso_ms(self.answer)
            r["Answered"] = "true"
            r["Duration"] = (self.release - self.answer) // 1000
            r["Answer indicator"] = self.answer_indicator
        else:
            r["Answer indicator"] = "No"
        r["Ring duration"] = str(self.ring_ms // 1000)
        return r


def spec_spelled(record: dict) -> dict:
    """The same record with the spec/wxc_sdk key spellings (order kept)."""
    return {SPEC_SPELLING.get(k, k): v for k, v in record.items()}


class IdSource:
    """Identifiers in the shapes Webex uses, drawn from one seeded stream."""

    __slots__ = ("r", "_call_half", "_ips")

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self._call_half = r.randrange(100_000_000, 400_000_000)
        self._ips = [
            f"10.{r.randrange(16, 250)}.{r.randrange(0, 250)}.{r.randrange(2, 250)}"
            for _ in range(6)
        ]

    def uuid(self) -> str:
        """A version-4 UUID (RFC 4122 variant bits)."""
        h = self.r.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def hex32(self) -> str:
        return self.r.randbytes(16).hex()

    def call_half(self) -> str:
        """``Local call ID``: a BroadWorks call-half id, ``"418820711:0"`` (gaps = other orgs)."""
        self._call_half += 1 + int(self.r.random() * 40)
        return f"{self._call_half}:0"

    def call_half_pair(self) -> tuple[str, str]:
        """Two consecutive call-half ids (both halves of an internal leg)."""
        self._call_half += 1 + int(self.r.random() * 40)
        n = self._call_half
        self._call_half += 1
        return f"{n}:0", f"{n + 1}:0"

    def _stamp(self, ms: int) -> str:
        """``hhmmssmmm`` + ``mmddyy`` of a UTC time."""
        s, m = divmod(ms, 1000)
        d, sod = divmod(s, 86400)
        mdy = _MDY.get(d)
        if mdy is None:
            mdy = _MDY[d] = datetime.fromtimestamp(d * 86400, UTC).strftime("%m%d%y")
        return _HMS6[sod] + _MS3[m] + mdy

    def network_call_id(self, ms: int) -> str:
        """``BW<hhmmssmmm><mmddyy><10 digits>@10.x.x.x`` (the call leg's BroadWorks id)."""
        return f"BW{self._stamp(ms)}{1_000_000_000 + int(self.r.random() * 9_000_000_000)}@{self._ips[0]}"

    def sip_call_id(self, ms: int) -> str:
        """``SSE<hhmmssmmm><mmddyy><10 digits>@10.x.x.x`` (SIP Call-ID of a device/client leg)."""
        r = self.r.random()
        return f"SSE{self._stamp(ms)}{1_000_000_000 + int(r * 9_000_000_000)}@{self._ips[1 + int(r * 1e6) % 5]}"

    def session_id(self, mac: str = "") -> str:
        """RFC 7206 session id: 32 hex, ``<8 random>00105000a000<12 hex of the endpoint>``."""
        if mac:
            return self.r.randbytes(4).hex() + "00105000a000" + mac.lower()
        b = self.r.randbytes(10).hex()
        return b[:8] + "00105000a000" + b[8:]
