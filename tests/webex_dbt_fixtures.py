"""Hand-built Webex CDR scenarios for the dbt tests (tests/test_webex_dbt*.py).

Each record is one party's view of one call leg, linked the way webex.md §1.9 describes; the
values are invented for these tests. Times are seconds after T0. Numbers carry the E.164 form,
country and number type that ingestion computes (pipelines/phone_numbers.py); here they are
written by hand so the dbt tests do not depend on the loader.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

T0 = datetime(2026, 3, 2, 14, 0, 0, tzinfo=UTC)  # 09:00 in America/Bogota
DAY = date(2026, 3, 2)
TZ = "America/Bogota"

# Columns of raw_webex.cdr as the loader writes them (the contract in _webex__sources.yml).
CDR_COLUMNS: list[tuple[str, str]] = [
    ("report_id", "varchar"), ("report_time", "timestamptz"), ("correlation_id", "varchar"),
    ("interaction_id", "varchar"), ("call_id", "varchar"), ("local_call_id", "varchar"),
    ("remote_call_id", "varchar"), ("network_call_id", "varchar"), ("related_call_id", "varchar"),
    ("related_reason", "varchar"), ("transfer_related_call_id", "varchar"),
    ("call_transfer_time", "timestamptz"), ("direction", "varchar"), ("call_type", "varchar"),
    ("answered", "boolean"), ("answer_indicator", "varchar"), ("answered_elsewhere", "varchar"),
    ("start_time", "timestamptz"), ("answer_time", "timestamptz"), ("release_time", "timestamptz"),
    ("duration", "bigint"), ("ring_duration", "bigint"), ("hold_duration", "bigint"),
    ("user_uuid", "varchar"), ("user_type", "varchar"), ("user", "varchar"), ("user_number", "varchar"),
    ("calling_number", "varchar"), ("called_number", "varchar"), ("dialed_digits", "varchar"),
    ("redirecting_number", "varchar"), ("redirecting_party_uuid", "varchar"),
    ("original_called_party_uuid", "varchar"), ("original_reason", "varchar"),
    ("redirect_reason", "varchar"), ("releasing_party", "varchar"), ("call_outcome", "varchar"),
    ("call_outcome_reason", "varchar"), ("auto_attendant_key_pressed", "varchar"),
    ("queue_type", "varchar"), ("location", "varchar"), ("site_uuid", "varchar"),
    ("transfer_type", "varchar"), ("call_recording_result", "varchar"),
    ("calling_number_e164", "varchar"), ("calling_number_country", "varchar"),
    ("calling_number_type", "varchar"), ("called_number_e164", "varchar"),
    ("called_number_country", "varchar"), ("called_number_type", "varchar"),
    ("raw_record", "varchar"), ("_source", "varchar"), ("_loaded_at", "timestamptz"),
]

PEOPLE_COLUMNS = [("person_uuid", "varchar"), ("emails", "varchar"), ("display_name", "varchar"),
                  ("extension", "varchar"), ("location_uuid", "varchar"), ("deleted_at", "timestamptz"),
                  ("_loaded_at", "timestamptz")]
LOCATION_COLUMNS = [("location_uuid", "varchar"), ("name", "varchar"), ("time_zone", "varchar"),
                    ("country", "varchar"), ("city", "varchar"), ("_loaded_at", "timestamptz")]

# services and people (UUIDs as CDRs carry them)
AA = "aa000000-0000-4000-8000-000000000001"
VL = "71000000-0000-4000-8000-000000000001"
Q_TARJETAS = "c0000000-0000-4000-8000-000000000001"
Q_FRAUDE = "c0000000-0000-4000-8000-000000000002"
Q_COBRANZAS = "c0000000-0000-4000-8000-000000000003"
ANA = "a0000000-0000-4000-8000-000000000001"
JORGE = "a0000000-0000-4000-8000-000000000002"
LUIS = "a0000000-0000-4000-8000-000000000003"
CARLOS = "a0000000-0000-4000-8000-000000000004"
MARIA = "a0000000-0000-4000-8000-000000000005"
ALICIA = "a0000000-0000-4000-8000-000000000006"
ROBERTO = "a0000000-0000-4000-8000-000000000007"
PEDRO = "a0000000-0000-4000-8000-000000000008"
Q_SEGUROS = "c0000000-0000-4000-8000-000000000004"
VL_AGENT = "72000000-0000-4000-8000-000000000001"  # a virtual line that is an agent of Seguros

NAMES = {AA: "AA Principal", VL: "Asistente IA", Q_TARJETAS: "Tarjetas", Q_FRAUDE: "Fraude",
         Q_COBRANZAS: "Cobranzas", ANA: "Ana Perez (CDR)", JORGE: "Jorge Paez", LUIS: "Luis Mora",
         CARLOS: "Carlos Diaz", MARIA: "Maria Gomez", ALICIA: "Alicia Rojas", ROBERTO: "Roberto Diaz",
         PEDRO: "Pedro Leon", Q_SEGUROS: "Seguros", VL_AGENT: "Linea Cobro"}
USER_TYPES = {AA: "AutomatedAttendantVideo", VL: "VirtualLine", Q_TARJETAS: "CallCenterStandard",
              Q_FRAUDE: "CallCenterStandard", Q_COBRANZAS: "CallCenterStandard", Q_SEGUROS: "CallCenterStandard",
              VL_AGENT: "VirtualLine"}

PEOPLE = [  # person_uuid, emails, display_name, extension (LEFT_WEBEX: found gone from Webex since)
    (ANA, '["Ana.Perez@banco.example"]', "Ana Pérez", "2001"),
    (JORGE, '["JORGE.PÁEZ@banco.example"]', "Jorge Páez", "2002"),  # his key: jorge.páez@… on every engine
    (LUIS, '["luis.mora@banco.example"]', "Luis Mora", "2003"),
    (CARLOS, '["carlos.diaz@banco.example"]', "Carlos Díaz", "2004"),
    (MARIA, '["maria.gomez@banco.example"]', "María Gómez", "2005"),
    (ALICIA, '["alicia.rojas@banco.example"]', "Alicia Rojas", "1001"),
    (ROBERTO, '["roberto.diaz@banco.example"]', "Roberto Díaz", "1002"),
    (PEDRO, '["pedro.leon@banco.example"]', "Pedro León", "2008"),
]
LEFT_WEBEX = {ROBERTO: T0 + timedelta(days=2)}

# The agent directory of the tests: Ana matched by e-mail (and by her Asterisk member name),
# Luis by Webex user UUID, Carlos by extension; the others are not listed.
DIRECTORY_CSV = (
    "agent_id,display_name,email,webex_user_uuid,extension,asterisk_member,asterisk_interface\n"
    "A-001,Ana Pérez,ana.perez@banco.example,,,ÁNA,\n"
    f"A-002,Luis Mora R.,,{LUIS.upper()},,,SIP/3002\n"
    "A-003,Carlos Díaz,,,2004,,\n"
)

MOBILE = ("+573001112222", "CO", "mobile")
DID = ("+576015550100", "CO", "fixed_line")
FIXED = ("+576014441111", "CO", "fixed_line")
SEGUROS_DID = ("+576015550300", "CO", "fixed_line")


def _ts(offset: float | None) -> datetime | None:
    return None if offset is None else T0 + timedelta(seconds=offset)


def record(report_id: str, user: str, *, start: float | None, release: float, answer: float | None = None,
           direction: str = "TERMINATING", caller=MOBILE, called=DID, **fields) -> dict:
    """One CDR row; `fields` override or add any raw column (times as offsets in seconds)."""
    row: dict = {name: None for name, _ in CDR_COLUMNS}
    row.update(
        report_id=report_id, report_time=_ts(release + 60), direction=direction,
        call_type="SIP_INBOUND" if direction == "TERMINATING" else "SIP_ENTERPRISE",
        user_uuid=user, user=NAMES[user], user_type=USER_TYPES.get(user, "User"),
        start_time=_ts(start), answer_time=_ts(answer), release_time=_ts(release),
        answered=answer is not None,
        duration=0 if answer is None else int(release - answer),
        calling_number=caller[0], calling_number_e164=caller[0] if caller[0].startswith("+") else None,
        calling_number_country=caller[1], calling_number_type=caller[2],
        called_number=called[0], called_number_e164=called[0] if called[0].startswith("+") else None,
        called_number_country=called[1], called_number_type=called[2],
        call_outcome="Success", call_outcome_reason="Normal" if answer is not None else "NoAnswer",
        releasing_party="Remote", location="Bogota", _source="test", _loaded_at=T0 + timedelta(days=1),
        raw_record="{}",
    )
    for key in ("call_transfer_time",):
        if key in fields:
            fields[key] = _ts(fields[key])
    row.update(fields)
    row["start_time"], row["release_time"] = _ts(start), _ts(release)
    return row


def offer(report_id: str, agent: str, queue: str, *, start: float, release: float, answer: float | None = None,
          ring: int | None = None, **fields) -> dict:
    """A queue's offer of the call to an agent (redirected by the queue, webex.md §1.9 step 4)."""
    ring = ring if ring is not None else int((answer if answer is not None else release) - start)
    return record(report_id, agent, start=start, release=release, answer=answer, ring_duration=ring,
                  redirect_reason="CallQueue", redirecting_party_uuid=queue, **fields)


def scenarios() -> dict[str, list[dict]]:
    """Scenario name -> its records; journeys start 1000 s apart."""
    s: dict[str, list[dict]] = {}

    b = 0  # simple answered call: PSTN -> Tarjetas -> Ana
    s["simple"] = [
        # (a queue's record carries Ring and Hold duration too, as 0: they measure nothing)
        record("r1-q", Q_TARJETAS, start=b, answer=b, release=b + 130, correlation_id="C1", local_call_id="q1:0",
               related_call_id="a1:0", related_reason="CallQueue", network_call_id="N1", queue_type="Call Queue",
               ring_duration=0, hold_duration=0),
        offer("r1-a", ANA, Q_TARJETAS, start=b + 5, answer=b + 12, release=b + 130, correlation_id="C1",
              local_call_id="a1:0", hold_duration=10, call_recording_result="successful"),
    ]

    b = 1000  # AA (key 2) -> Tarjetas -> Jorge rings out -> Ana answers
    s["aa_rna"] = [
        record("r2-aa", AA, start=b, answer=b, release=b + 20, caller=FIXED, correlation_id="C2", local_call_id="aa2:0",
               related_call_id="q2:0", related_reason="Deflection", network_call_id="N2", auto_attendant_key_pressed="2",
               ring_duration=0, hold_duration=0),
        record("r2-q", Q_TARJETAS, start=b + 20, answer=b + 20, release=b + 200, caller=FIXED, correlation_id="C2",
               local_call_id="q2:0", network_call_id="N2", related_call_id="a2b:0", related_reason="CallQueue",
               redirect_reason="Deflection", redirecting_party_uuid=AA),
        offer("r2-j", JORGE, Q_TARJETAS, start=b + 25, release=b + 40, ring=15, caller=FIXED, correlation_id="C2",
              local_call_id="a2a:0"),
        offer("r2-a", ANA, Q_TARJETAS, start=b + 40, answer=b + 48, release=b + 200, caller=FIXED, correlation_id="C2",
              local_call_id="a2b:0"),
    ]

    b = 2000  # Tarjetas -> Ana answers, blind-transfers to the Fraude queue -> Luis answers
    s["blind_transfer"] = [
        record("r3-q", Q_TARJETAS, start=b, answer=b, release=b + 90, correlation_id="C3", local_call_id="q3:0",
               related_call_id="a3:0", related_reason="CallQueue"),
        offer("r3-a", ANA, Q_TARJETAS, start=b + 3, answer=b + 10, release=b + 90, correlation_id="C3",
              local_call_id="a3:0", related_call_id="qf3:0", related_reason="Deflection", call_transfer_time=b + 90),
        record("r3-f", Q_FRAUDE, start=b + 90, answer=b + 90, release=b + 300, correlation_id="C3", local_call_id="qf3:0",
               related_call_id="l3:0", related_reason="CallQueue", redirect_reason="Deflection",
               redirecting_party_uuid=ANA),
        offer("r3-l", LUIS, Q_FRAUDE, start=b + 92, answer=b + 100, release=b + 300, correlation_id="C3",
              local_call_id="l3:0"),
    ]

    b = 3000  # Tarjetas -> Ana answers, consults Carlos (second call), transfers the caller to him
    internal = ("2001", "CO", "internal")
    s["consult_transfer"] = [
        record("r4-q", Q_TARJETAS, start=b, answer=b, release=b + 15, correlation_id="C4", local_call_id="q4:0",
               related_call_id="a4:0", related_reason="CallQueue"),
        offer("r4-a", ANA, Q_TARJETAS, start=b + 5, answer=b + 15, release=b + 120, correlation_id="C4",
              local_call_id="a4:0", transfer_related_call_id="a4c:0", call_transfer_time=b + 120,
              interaction_id="I4"),
        record("r4-ac", ANA, start=b + 60, answer=b + 66, release=b + 120, direction="ORIGINATING",
               caller=internal, called=("2004", "CO", "internal"), correlation_id="C4b", local_call_id="a4c:0",
               remote_call_id="k4:0", transfer_related_call_id="a4:0", related_reason="ConsultativeTransfer",
               interaction_id="I4"),
        record("r4-k", CARLOS, start=b + 60, answer=b + 66, release=b + 400, caller=internal,
               called=("2004", "CO", "internal"), correlation_id="C4b", local_call_id="k4:0",
               remote_call_id="a4c:0", interaction_id="I4", ring_duration=6),
    ]

    b = 4000  # Cobranzas: Jorge rings out, Luis busy, the caller hangs up after 40 s
    s["abandoned"] = [
        record("r5-q", Q_COBRANZAS, start=b, answer=b, release=b + 40, correlation_id="C5", local_call_id="q5:0"),
        offer("r5-j", JORGE, Q_COBRANZAS, start=b + 2, release=b + 22, correlation_id="C5", local_call_id="j5:0"),
        offer("r5-l", LUIS, Q_COBRANZAS, start=b + 2, release=b + 2, ring=0, correlation_id="C5",
              local_call_id="l5:0", call_outcome_reason="UserBusy"),
    ]
    b = 4500  # Cobranzas: the caller hangs up after 3 s (short abandon)
    s["short_abandon"] = [
        record("r5b-q", Q_COBRANZAS, start=b, answer=b, release=b + 3, correlation_id="C5b", local_call_id="q5b:0"),
    ]

    b = 5000  # AI agent on a virtual line talks 60 s, escalates to Tarjetas (linked by network / related ids only)
    s["ai_escalation"] = [
        record("r6-v", VL, start=b, answer=b + 1, release=b + 61, correlation_id="C6a", local_call_id="v6:0",
               network_call_id="N6", related_call_id="q6:0", related_reason="Deflection",
               transfer_type="AI Receptionist Deflection By Intent"),
        record("r6-q", Q_TARJETAS, start=b + 61, answer=b + 61, release=b + 70, correlation_id="C6",
               local_call_id="q6:0", network_call_id="N6", related_call_id="a6:0", related_reason="CallQueue",
               redirect_reason="Deflection", redirecting_party_uuid=VL),
        offer("r6-a", ANA, Q_TARJETAS, start=b + 62, answer=b + 70, release=b + 190, correlation_id="C6",
              local_call_id="a6:0"),
    ]

    b = 6000  # outbound international call by María
    s["outbound"] = [
        record("r7-m", MARIA, start=b, answer=b + 10, release=b + 310, direction="ORIGINATING",
               caller=("+576015550199", "CO", "fixed_line"), called=("+442079460000", "GB", "international"),
               call_type="SIP_INTERNATIONAL", correlation_id="C7", local_call_id="m7:0", ring_duration=10,
               call_recording_result="successful"),
    ]

    b = 7000  # internal call Alicia (1001) -> Roberto (1002): the two halves of one leg
    a, r = ("1001", "CO", "internal"), ("1002", "CO", "internal")
    s["internal"] = [
        record("r8-a", ALICIA, start=b, answer=b + 5, release=b + 65, direction="ORIGINATING", caller=a, called=r,
               correlation_id="C8", local_call_id="x8:0", remote_call_id="y8:0"),
        record("r8-r", ROBERTO, start=b, answer=b + 5, release=b + 65, caller=a, called=r, correlation_id="C8",
               local_call_id="y8:0", remote_call_id="x8:0", ring_duration=5),
    ]

    b = 8000  # Seguros offers the call to an agent on a virtual line, who answers
    s["virtual_line_agent"] = [
        record("r9-q", Q_SEGUROS, start=b, answer=b, release=b + 100, called=SEGUROS_DID, correlation_id="C9",
               local_call_id="q9:0", related_call_id="v9:0", related_reason="CallQueue", queue_type="Call Queue"),
        offer("r9-v", VL_AGENT, Q_SEGUROS, start=b + 2, answer=b + 6, release=b + 100, called=SEGUROS_DID,
              correlation_id="C9", local_call_id="v9:0"),
    ]

    b = 9000  # Pedro dials Seguros' full number from his extension: on-net (SIP_ENTERPRISE), no PSTN leg
    ext = ("2008", "CO", "internal")
    s["employee_to_queue"] = [
        record("r10-p", PEDRO, start=b, answer=b, release=b + 70, direction="ORIGINATING", caller=ext,
               called=SEGUROS_DID, correlation_id="C10", local_call_id="p10:0"),
        record("r10-q", Q_SEGUROS, start=b, answer=b, release=b + 70, caller=ext, called=SEGUROS_DID,
               call_type="SIP_ENTERPRISE", correlation_id="C10", local_call_id="q10:0", related_call_id="r10:0",
               related_reason="CallQueue"),
        offer("r10-r", ROBERTO, Q_SEGUROS, start=b + 3, answer=b + 10, release=b + 70, caller=ext,
              called=SEGUROS_DID, call_type="SIP_ENTERPRISE", correlation_id="C10", local_call_id="r10:0"),
    ]

    b = 10000  # María's national call fails; its record has an empty Start time (webex.md §1.7)
    s["empty_start_time"] = [
        record("r11-m", MARIA, start=None, release=b + 5, direction="ORIGINATING",
               caller=("+576015550199", "CO", "fixed_line"), called=("+576017770000", "CO", "fixed_line"),
               call_type="SIP_NATIONAL", correlation_id="C11", local_call_id="m11:0", call_outcome="Failure",
               call_outcome_reason="NoRouteToDestination"),
    ]

    b = 11000  # Tarjetas -> Ana answers, blind-transfers to Fraude -> Luis rings 25 s, the caller hangs up
    s["transfer_then_abandoned"] = [
        record("r12-q", Q_TARJETAS, start=b, answer=b, release=b + 60, correlation_id="C12", local_call_id="q12:0",
               related_call_id="a12:0", related_reason="CallQueue"),
        offer("r12-a", ANA, Q_TARJETAS, start=b + 4, answer=b + 10, release=b + 60, correlation_id="C12",
              local_call_id="a12:0", related_call_id="qf12:0", related_reason="Deflection", call_transfer_time=b + 60),
        record("r12-f", Q_FRAUDE, start=b + 60, answer=b + 60, release=b + 95, correlation_id="C12",
               local_call_id="qf12:0", redirect_reason="Deflection", redirecting_party_uuid=ANA),
        offer("r12-l", LUIS, Q_FRAUDE, start=b + 62, release=b + 87, ring=25, correlation_id="C12",
              local_call_id="l12:0"),
    ]

    b = 12000  # AA: key 0 sends the caller to Jorge's phone, which rings 20 s unanswered
    s["aa_to_unanswered_person"] = [
        record("r13-aa", AA, start=b, answer=b, release=b + 10, caller=FIXED, correlation_id="C13",
               local_call_id="aa13:0", related_call_id="j13:0", related_reason="Deflection",
               auto_attendant_key_pressed="0"),
        record("r13-j", JORGE, start=b + 10, release=b + 30, ring_duration=20, caller=FIXED, correlation_id="C13",
               local_call_id="j13:0", redirect_reason="Deflection", redirecting_party_uuid=AA),
    ]
    return s


def all_records() -> list[dict]:
    return [r for records in scenarios().values() for r in records]


def journey_of(scenario: str) -> str:
    """The journey id expected for a scenario: the correlation id of its first record."""
    return {"ai_escalation": "C6a"}.get(scenario, scenarios()[scenario][0]["correlation_id"])


# ------------------------------------------------------------------ loading into a warehouse

def raw_webex_ddl(*, sql_types: dict[str, str] | None = None) -> str:
    types = sql_types or {}

    def cols(columns):
        return ", ".join(f'"{n}" {types.get(t, t)}' for n, t in columns)

    return (
        "create schema if not exists raw_webex;\n"
        f"create table raw_webex.cdr ({cols(CDR_COLUMNS)});\n"
        f"create table raw_webex.people ({cols(PEOPLE_COLUMNS)});\n"
        f"create table raw_webex.locations ({cols(LOCATION_COLUMNS)});\n"
    )


def load_webex(cur, placeholder: str, records: list[dict] | None = None) -> None:
    records = all_records() if records is None else records
    names = [n for n, _ in CDR_COLUMNS]
    cur.executemany(
        f"insert into raw_webex.cdr ({', '.join(chr(34) + n + chr(34) for n in names)}) "
        f"values ({', '.join([placeholder] * len(names))})",
        [tuple(r[n] for n in names) for r in records],
    )
    cur.executemany(
        f"insert into raw_webex.people values ({', '.join([placeholder] * len(PEOPLE_COLUMNS))})",
        [(*p, "10c00000-0000-4000-8000-000000000001", LEFT_WEBEX.get(p[0]), T0) for p in PEOPLE],
    )
    cur.executemany(
        f"insert into raw_webex.locations values ({', '.join([placeholder] * len(LOCATION_COLUMNS))})",
        [("10c00000-0000-4000-8000-000000000001", "Bogota", "America/Bogota", "CO", "Bogotá", T0)],
    )
