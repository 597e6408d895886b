"""The labelled fraud and misuse scenarios (simulator/fraud_scenarios.py) in the simulated Webex
CDRs: labels point at real records, the records are valid Webex legs, blatant variants cross
the static thresholds of reference/fraud.md §1.4/§1.6 and subtle ones stay under them (measured
on the CDR files, not on the planner), look-alikes are labelled, and the queue/agent truth is
the same with fraud on and off."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import polars as pl
import pytest

from simulator.contact_center import simulate
from simulator.fraud_scenarios import SCENARIOS, build_fraud, plan_lookalikes
from simulator.population import build_population
from simulator.webex_cdr import KEYS, SPEC_SPELLING

TZ = "America/Bogota"
BACK = {v: k for k, v in SPEC_SPELLING.items()}
SPEC_KEYS = tuple(SPEC_SPELLING.get(k, k) for k in KEYS)
START = date(2026, 3, 2)  # a Monday
RUN = {"agents": 30, "days": 1, "seed": 5, "start": START, "timezone": TZ, "channels": False,
       "asterisk": False}  # fmt: skip

# the module fixture is built once, on one worker
pytestmark = pytest.mark.xdist_group("simulator_fraud")


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def read_lines(out: Path) -> list[tuple[str, bytes, dict]]:
    """(file name, raw line, record with real key spellings + ``_inserted_at``) per CDR line."""
    rows = []
    for p in sorted((out / "webex" / "cdr").glob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            o = orjson.loads(line)
            rec = {BACK.get(k, k): v for k, v in o["record"].items()}
            rec["_keys"] = tuple(o["record"])
            rec["_inserted_at"] = o["inserted_at"]
            rows.append((p.name, line, rec))
    return rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("fraud")
    on = simulate(base / "on", fraud=True, **RUN)
    off = simulate(base / "off", fraud=False, **RUN)
    labels = pl.read_parquet(base / "on" / "truth" / "fraud_labels.parquet")
    return base, on, off, read_lines(base / "on"), read_lines(base / "off"), labels


def _fraud_records(lines, labels, incident_id: str) -> list[dict]:
    rids = set(labels.filter(pl.col("incident_id") == incident_id)["report_ids"][0])
    return sorted((r for _, _, r in lines if r["Report ID"] in rids), key=lambda r: r["Start time"])


def _max_in_window(times_ms: list[int], window_ms: int) -> int:
    """Most events in any sliding window of ``window_ms`` (events at its start included)."""
    ts, best, i = sorted(times_ms), 0, 0
    for j, t in enumerate(ts):
        while t - ts[i] >= window_ms:
            i += 1
        best = max(best, j - i + 1)
    return best


def _max_concurrency(recs: list[dict]) -> int:
    ev = sorted(
        [(_ms(r["Start time"]), 1) for r in recs] + [(_ms(r["Release time"]), -1) for r in recs]
    )
    cur = best = 0
    for _, d in ev:  # a release before a start at the same ms: -1 sorts first
        cur += d
        best = max(best, cur)
    return best


# --------------------------------------------------------------------------------- the labels


def test_every_label_report_id_is_in_the_cdr_files_exactly_once(runs):
    _, on, off, lines, off_lines, labels = runs
    fraud = labels.filter(pl.col("is_fraud"))
    assert sorted(fraud["scenario"].unique()) == sorted(SCENARIOS)
    assert sorted(fraud["variant"].unique()) == ["blatant", "subtle"]
    assert fraud.height == 2 * len(SCENARIOS) == on["fraud"]["incidents"]
    seen: dict[str, int] = {}
    for _, _, r in lines:
        seen[r["Report ID"]] = seen.get(r["Report ID"], 0) + 1
    label_rids = [rid for rids in fraud["report_ids"] for rid in rids]
    assert len(label_rids) == len(set(label_rids)) == on["fraud"]["records"]
    assert all(seen.get(rid) == 1 for rid in label_rids)
    # the fraud records are exactly what the run with fraud has on top of the run without
    off_rids = {r["Report ID"] for _, _, r in off_lines}
    assert {r["Report ID"] for _, _, r in lines} - off_rids == set(label_rids)
    assert len(lines) == len(off_lines) + len(label_rids)
    assert (
        off["fraud"] is None and not (runs[0] / "off" / "truth" / "fraud_labels.parquet").exists()
    )
    # every incident has calls, a period covering them, and the users it names made them
    for row in fraud.iter_rows(named=True):
        recs = _fraud_records(lines, labels, row["incident_id"])
        assert row["n_calls"] == len(recs) > 0 and row["expected_alert"]
        start = int(row["start"].timestamp() * 1000)
        end = int(row["end"].timestamp() * 1000)
        assert start == min(_ms(r["Start time"]) for r in recs)
        assert end == max(_ms(r["Release time"]) for r in recs)
        assert {r["User UUID"] for r in recs} == set(row["user_uuids"])
        assert {r["Correlation ID"] for r in recs} == set(row["correlation_ids"])
        far = {r["Called number"] if r["Direction"] == "ORIGINATING" else r["Calling number"]
               for r in recs}  # fmt: skip
        assert far == set(row["numbers"])
        if row["entity_kind"] == "user":
            assert {r["User UUID"] for r in recs} == {row["entity"]}
        if row["entity_kind"] == "authorization_code":
            assert {r["Authorization code"] for r in recs} == {row["entity"]}


def test_fraud_records_are_valid_webex_legs_linked_on_their_own(runs):
    out, _, _, lines, _, labels = runs
    rids = {rid for rids in labels["report_ids"] for rid in rids}
    people = orjson.loads((out / "on" / "webex" / "people.json").read_bytes())
    assert people
    user_uuids = set(pl.read_parquet(out / "on" / "truth" / "agents.parquet")["user_uuid"])
    locals_ = [r["Local call ID"] for _, _, r in lines]
    assert len(locals_) == len(set(locals_))  # fraud call halves never collide with normal ones
    corr_count: dict[str, int] = {}
    for _, _, r in lines:
        corr_count[r["Correlation ID"]] = corr_count.get(r["Correlation ID"], 0) + 1
    fraud = [r for _, _, r in lines if r["Report ID"] in rids]
    nets = [r["Network call ID"] for r in fraud]
    assert len(nets) == len(set(nets))
    for r in fraud:
        assert r["_keys"] in (KEYS, SPEC_KEYS)
        # a PSTN leg: one record per call, linked to nothing else (webex.md §1.9)
        assert corr_count[r["Correlation ID"]] == 1
        assert r["Remote call ID"] == r["Related call ID"] == r["Transfer related call ID"] == ""
        assert r["User UUID"] in user_uuids and r["User type"] == "User"
        assert r["Interaction ID"] and r["Network call ID"].startswith("BW")
        start, rel = _ms(r["Start time"]), _ms(r["Release time"])
        assert start <= rel < _ms(r["Report time"]) < _ms(r["_inserted_at"])
        assert int(r["Ring duration"]) >= 0 and isinstance(r["Duration"], int)
        if r["Answered"] == "true":
            ans = _ms(r["Answer time"])
            assert start <= ans <= rel and r["Duration"] == (rel - ans) // 1000
            assert r["Call outcome"] == "Success" and r["Answer indicator"] == "Yes"
        else:
            assert r["Answered"] == "false" and r["Answer time"] == "" and r["Duration"] == 0
        if r["Direction"] == "ORIGINATING":
            assert r["Calling number"] == r["User number"] and r["Outbound trunk"]
            assert r["Call type"] in ("SIP_INTERNATIONAL", "SIP_PREMIUM")
            if r["Call type"] == "SIP_INTERNATIONAL":
                assert r["International country"] and r["Dialed digits"].startswith("00")
        else:
            assert r["Call type"] == "SIP_INBOUND" and r["Called number"] == r["User number"]
            assert r["Inbound trunk"] and r["Calling number"].startswith("+")
    # files: per UTC day of inserted_at, sorted by it, fraud lines included
    by_file: dict[str, list[str]] = {}
    for name, _, r in lines:
        by_file.setdefault(name, []).append(r["_inserted_at"])
    for name, ins in by_file.items():
        assert ins == sorted(ins) and {i[:10] for i in ins} == {name[:10]}


def test_same_seed_same_fraud_and_another_seed_differs(runs, tmp_path):
    base, _, _, lines, _, labels = runs
    simulate(tmp_path / "again", fraud=True, **RUN)
    again = sorted((tmp_path / "again" / "webex" / "cdr").glob("*.jsonl"))
    first = sorted((base / "on" / "webex" / "cdr").glob("*.jsonl"))
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]
    assert pl.read_parquet(tmp_path / "again" / "truth" / "fraud_labels.parquet").equals(labels)
    pop = build_population(5, 2000, 30)
    a = build_fraud(pop, START, 1, seed=5)
    b = build_fraud(pop, START, 1, seed=5)
    c = build_fraud(pop, START, 1, seed=6)
    assert a.records == b.records and a.labels == b.labels
    assert [rec["Called number"] for _, rec in a.records] != [
        rec["Called number"] for _, rec in c.records
    ]


# ------------------------------------------------------------- thresholds, from the CDR files


def check_pbx_hack(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    z = ZoneInfo(TZ)
    for recs in (blatant, subtle):  # at night (22–07 h, the center closed), from a new softphone
        hours = {datetime.fromtimestamp(_ms(r["Start time"]) / 1000, z).hour for r in recs}
        assert all(h < 7 or h >= 22 for h in hours)
        assert {r["Client type"] for r in recs} == {"WXC_THIRD_PARTY"}
        assert {r["Call type"] for r in recs} == {"SIP_INTERNATIONAL"}
    starts = [_ms(r["Start time"]) for r in blatant]
    # OpenSIPS night critical (00–09 h): concurrent 4, total calls 20; §1.6 R2 critical: ≥ 3
    # tier-1 calls in 15 min
    assert _max_concurrency(blatant) > 4 and len(blatant) > 20
    assert _max_in_window(starts, 15 * 60_000) >= 3
    assert {r["International country"] for r in blatant} <= {"SO", "CU", "LV", "SL"}
    assert max(r["Duration"] for r in blatant) > 1800  # IPRN keeps lines up
    # subtle: one at a time, under the night warn level of total calls (10), a low-risk country
    assert _max_concurrency(subtle) == 1 and len(subtle) < 10
    assert _max_in_window([_ms(r["Start time"]) for r in subtle], 15 * 60_000) < 3
    assert {r["International country"] for r in subtle} <= {"GB", "BE", "CH"}


def check_irsf_range(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    def per_hour_same_range(recs):  # §1.6 R7: numbers differing only in the last 1–3 digits
        by_range: dict[str, list[int]] = {}
        for r in recs:
            by_range.setdefault(r["Called number"][:-3], []).append(_ms(r["Start time"]))
        return max(_max_in_window(t, 3_600_000) for t in by_range.values())

    assert per_hour_same_range(blatant) >= 15  # OpenSIPS sequential critical 15
    assert len({r["Called number"] for r in blatant}) == len(blatant)  # all distinct
    assert per_hour_same_range(subtle) < 5 and _max_concurrency(subtle) == 1  # under R7 (5)


def check_wangiri(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    for recs, is_blatant in ((blatant, True), (subtle, False)):
        rings = [r for r in recs if r["Direction"] == "TERMINATING"]
        assert all(r["Answered"] == "false" and int(r["Ring duration"]) <= 3 and
                   r["Releasing party"] == "Remote" for r in rings)  # fmt: skip
        assert len({r["Calling number"][:-4] for r in rings}) == 1  # one range
        per_15 = _max_in_window([_ms(r["Start time"]) for r in rings], 15 * 60_000)
        # §1.6 R12: callbacks to numbers seen as missed international calls
        missed = {r["Calling number"]: _ms(r["Start time"]) for r in rings}
        backs = [r for r in recs if r["Direction"] == "ORIGINATING"]
        assert all(missed[r["Called number"]] < _ms(r["Start time"]) for r in backs)
        if is_blatant:  # §1.6 R11: ≥ 20 unanswered one-ring intl inbound in 15 min
            assert per_15 >= 20 and len(backs) >= 3
        else:
            assert per_15 < 20 and len(backs) == 1


def check_premium_rate(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    for recs in (blatant, subtle):
        assert {r["Call type"] for r in recs} == {"SIP_PREMIUM"}
        assert all(r["Called number"].startswith(("+571900", "+979")) for r in recs)
    # §1.6 R1: critical when > 3 premium calls in 1 h
    assert _max_in_window([_ms(r["Start time"]) for r in blatant], 3_600_000) > 3
    assert len(subtle) == 1


def check_authorization_code(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    for recs in (blatant, subtle):
        assert len({r["Authorization code"] for r in recs}) == 1
        assert not {r["User UUID"] for r in recs} & desk  # never the code's owner
    # §1.6 R6: intl calls / 15 min > 3
    assert _max_in_window([_ms(r["Start time"]) for r in blatant], 15 * 60_000) > 3
    assert len({r["User UUID"] for r in blatant}) >= 3
    assert _max_in_window([_ms(r["Start time"]) for r in subtle], 15 * 60_000) <= 3
    assert len({r["User UUID"] for r in subtle}) == 1


def check_internal_misuse(blatant: list[dict], subtle: list[dict], desk: set[str]) -> None:
    for recs in (blatant, subtle):  # allowlisted countries: destination rules do not see it
        assert {r["International country"] for r in recs} <= {"US", "ES"}
        assert len({r["Called number"] for r in recs}) == 1
        assert not {r["User UUID"] for r in recs} & desk  # not on the international desk
    assert max(r["Duration"] for r in blatant) > 3600  # §1.6 R8 warn: single intl call > 60 min
    assert max(r["Duration"] for r in subtle) < 3600


CHECKS = {
    "pbx_hack_toll_fraud": check_pbx_hack,
    "irsf_number_range": check_irsf_range,
    "wangiri": check_wangiri,
    "premium_rate": check_premium_rate,
    "authorization_code_misuse": check_authorization_code,
    "internal_misuse": check_internal_misuse,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_blatant_crosses_the_thresholds_and_subtle_stays_under_in_the_cdr_files(runs, scenario):
    _, _, _, lines, _, labels = runs
    desk = labels.filter(pl.col("scenario") == "authorised_international")["user_uuids"]
    blatant = _fraud_records(lines, labels, f"F00-{scenario}-blatant")
    subtle = _fraud_records(lines, labels, f"F00-{scenario}-subtle")
    CHECKS[scenario](blatant, subtle, {u for us in desk for u in us})


def test_the_thresholds_hold_for_other_seeds_and_a_small_center():
    """The same checks on the injector's records for 12 seeds (two weeks each), so the
    variants do not cross or miss a threshold by luck of one seed."""
    for seed in range(1, 13):
        pop = build_population(seed, 2000, 12 if seed % 2 else 40)
        desk = frozenset(a.agent_id for a in pop.agents if a.role == "supervisor")
        fo = build_fraud(pop, date(2026, 3, 2), 14, seed, authorised_intl=desk)
        by_rid = {rec["Report ID"]: rec for _, rec in fo.records}
        desk_uuids = {pop.agent(a).user_uuid for a in desk}
        rows = {row["incident_id"]: row for row in fo.labels}
        for week in (0, 1):
            for scenario in SCENARIOS:
                blatant, subtle = (
                    [by_rid[rid] for rid in rows[f"F{week:02d}-{scenario}-{v}"]["report_ids"]]
                    for v in ("blatant", "subtle")
                )
                CHECKS[scenario](blatant, subtle, desk_uuids)


# ----------------------------------------------------------------------------- look-alikes


def test_lookalikes_are_labelled_and_cover_the_normal_international_callers(runs):
    out, _, _, lines, _, labels = runs
    look = labels.filter(~pl.col("is_fraud"))
    assert not look["expected_alert"].any() and set(look["variant"]) == {"lookalike"}
    agents = pl.read_parquet(out / "on" / "truth" / "agents.parquet")
    dialer = look.filter(pl.col("scenario") == "collections_dialer")
    assert dialer.height == 1  # Monday
    collectors = set(agents.filter(pl.col("role") == "collections")["agent_id"])
    assert set(dialer["user_ids"][0]) == collectors and collectors
    # every legitimate international call comes from a user labelled as authorised
    fraud_rids = {rid for rids in labels["report_ids"] for rid in rids}
    legit_intl = {r["User UUID"] for _, _, r in lines
                  if r["Call type"] == "SIP_INTERNATIONAL" and r["Report ID"] not in fraud_rids}  # fmt: skip
    authorised = look.filter(pl.col("scenario") == "authorised_international")
    assert authorised.height >= 3
    assert legit_intl <= {u for us in authorised["user_uuids"] for u in us}
    # the dialer's own calls fall in its labelled window
    w0, w1 = dialer["start"][0], dialer["end"][0]
    dial = [r for _, _, r in lines if r["Caller ID number"] == "+576017460300"]
    assert dial and all(w0.timestamp() * 1000 <= _ms(r["Start time"]) and
                        _ms(r["Release time"]) <= w1.timestamp() * 1000 for r in dial)  # fmt: skip


def test_lookalike_calendar_paydays_and_dialer_days():
    pop = build_population(3, 2000, 20)
    # the payday of Sun 15 March 2026 moves back to Sat 14; Sun 15 has no dialer
    look = plan_lookalikes(pop, date(2026, 3, 13), 3, TZ, frozenset({pop.agents[-1].agent_id}))
    kinds = [(i.scenario, i.incident_id[-8:]) for i in look]
    assert [k for k in kinds if k[0] == "payday_peak"] == [("payday_peak", "20260314")]
    assert ("collections_dialer", "20260313") in kinds and (
        "collections_dialer",
        "20260314",
    ) in kinds
    assert ("collections_dialer", "20260315") not in kinds
    assert [i.user_ids for i in look if i.scenario == "authorised_international"] == [
        (pop.agents[-1].agent_id,)
    ]


# ------------------------------------------------------------------- truth KPIs untouched


def test_queue_and_agent_truth_is_the_same_with_and_without_fraud(runs):
    base, on, off, lines, off_lines, labels = runs
    for name in (
        "kpi_queue_daily",
        "kpi_agent_daily",
        "visits",
        "offers",
        "journeys",
        "agent_states",
    ):
        a = pl.read_parquet(base / "on" / "truth" / f"{name}.parquet")
        b = pl.read_parquet(base / "off" / "truth" / f"{name}.parquet")
        assert a.equals(b), name
    assert on["webex"]["journeys"] == off["webex"]["journeys"]
    assert on["webex"]["records"] == off["webex"]["records"]
    # the normal records are byte for byte the same lines, in the same order
    fraud_rids = {rid for rids in labels["report_ids"] for rid in rids}
    assert [ln for _, ln, r in lines if r["Report ID"] not in fraud_rids] == [
        ln for _, ln, _ in off_lines
    ]
    assert sum(on["webex"]["cdr_files"].values()) == len(lines)


def test_cli_injects_fraud_unless_told_not_to(tmp_path, capsys):
    from simulator.cli import main

    args = ["--agents", "6", "--start", "2026-03-16", "--end", "2026-03-17", "--seed", "3",
            "--no-asterisk", "--no-channels"]  # fmt: skip
    assert main(["--out", str(tmp_path / "a"), *args]) == 0
    assert main(["--out", str(tmp_path / "b"), "--no-fraud", *args]) == 0
    capsys.readouterr()
    a = orjson.loads((tmp_path / "a" / "manifest.json").read_bytes())
    b = orjson.loads((tmp_path / "b" / "manifest.json").read_bytes())
    assert a["fraud"]["incidents"] == 12 and a["fraud"]["records"] > 100
    assert b["fraud"] is None
    assert (tmp_path / "a" / "truth" / "fraud_labels.parquet").exists()
    assert not (tmp_path / "b" / "truth" / "fraud_labels.parquet").exists()
