"""The Webex Calling contact-center simulator (simulator/contact_center.py, webex_calls.py, webex_cdr.py).

The checks read what the simulator wrote — CDR JSONL files, people/locations, the Control Hub
CSV, the truth parquet files — and recompute what they can from the raw records alone, the way
the pipeline has to (reference/webex.md §1.9). They never look at the simulator's internals.
"""

from __future__ import annotations

import base64
import csv
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import phonenumbers
import polars as pl
import pytest

from simulator.contact_center import simulate
from simulator.model import match_key
from simulator.population import build_population
from simulator.webex_cdr import KEYS, SPEC_SPELLING

TZ = "America/Bogota"
SPEC_KEYS = tuple(SPEC_SPELLING.get(k, k) for k in KEYS)
BACK = {v: k for k, v in SPEC_SPELLING.items()}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOURNEY_OUTCOMES = {"answered", "ai_resolved", "abandoned", "aa_hangup", "timeout", "closed",
                    "no_answer", "busy", "failed"}  # fmt: skip


def _ms(ts: str) -> int:
    return int(
        datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000
    )


def read_cdr(out: Path) -> tuple[list[dict], list[tuple[str, str, list[str]]]]:
    """Every record (keys normalised to the real spelling) and, per line, (file, inserted_at, keys)."""
    recs, meta = [], []
    for p in sorted((out / "webex" / "cdr").glob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            o = orjson.loads(line)
            keys = list(o["record"])
            meta.append((p.name, o["inserted_at"], keys))
            rec = {BACK.get(k, k): v for k, v in o["record"].items()}
            rec["_inserted_at"] = o["inserted_at"]
            recs.append(rec)
    return recs, meta


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "out"
    # Friday 13 March 2026 and Saturday 14 (payday: the 15th is a Sunday)
    summary = simulate(out, agents=24, days=2, seed=11, start=date(2026, 3, 13), timezone=TZ,
                       channels=False, asterisk=True, asterisk_agents=4)  # fmt: skip
    recs, meta = read_cdr(out)
    journeys = pl.read_parquet(out / "truth" / "journeys.parquet")
    visits = pl.read_parquet(out / "truth" / "visits.parquet")
    return out, summary, recs, meta, journeys, visits


# ------------------------------------------------------------------------------------- format


def test_every_record_has_the_87_keys_in_order_and_typed_values(site):
    _, summary, recs, meta, _, _ = site
    assert len(recs) == summary["webex"]["records"] > 1000
    spec = 0
    for _name, _ins, keys in meta:
        assert tuple(keys) in (KEYS, SPEC_KEYS)
        spec += tuple(keys) == SPEC_KEYS
    assert 0 < spec < len(meta) * 0.05  # a few records use the spec/wxc_sdk spellings
    assert spec == summary["webex"]["spec_spelled_records"]
    for r in recs:
        assert r["Answered"] in ("true", "false")
        assert isinstance(r["Duration"], int) and isinstance(r["Hold duration"], int)
        assert isinstance(r["Ring duration"], str) and r["Ring duration"].isdigit()
        assert r["Site timezone"] == "-300"
        for k in ("Start time", "Release time", "Report time"):
            assert TS.match(r[k]), (k, r[k])
        assert r["Answer time"] == "" or TS.match(r["Answer time"])
        assert (r["Answer time"] != "") == (r["Answered"] == "true")
        assert r["Public Calling IP Address"] == "NA"
        assert r["OS type"] in ("na", "windows", "mac")
        assert r["Direction"] in ("ORIGINATING", "TERMINATING")
        if r["Answered"] == "true":
            dur = (_ms(r["Release time"]) - _ms(r["Answer time"])) // 1000
            assert r["Duration"] == dur
        else:
            assert r["Duration"] == 0 and r["Answer indicator"] == "No"
        assert r["Start time"] <= r["Release time"] <= r["Report time"] <= r["_inserted_at"]
        if r["User type"] != "AutomatedAttendantVideo":
            assert r["Auto Attendant Key Pressed"] == "NA"


def test_files_are_per_utc_day_of_insertion_and_sorted(site):
    _, summary, _, meta, _, _ = site
    by_file = defaultdict(list)
    for name, ins, _ in meta:
        by_file[name].append(ins)
    assert len(by_file) >= 2
    for name, ins in by_file.items():
        assert ins == sorted(ins)
        assert {i[:10] for i in ins} == {name.removesuffix(".jsonl")}
        assert summary["webex"]["cdr_files"][name] == len(ins)
    # most records are inserted a minute or two after the report; a few much later (backfill)
    recs = site[2]
    lag = sorted(_ms(r["_inserted_at"]) - _ms(r["Report time"]) for r in recs)
    assert 20_000 <= lag[len(lag) // 2] <= 110_000
    assert lag[-1] > 30 * 60_000


# ------------------------------------------------------------------------------------- outcomes


def test_every_call_has_exactly_one_outcome(site):
    _, summary, _, _, journeys, visits = site
    assert journeys["journey_id"].is_unique().all()
    assert journeys["outcome"].is_in(list(JOURNEY_OUTCOMES)).all()
    assert journeys.height == summary["webex"]["journeys"]
    assert set(journeys["journey_id"]) >= set(visits["journey_id"])
    assert visits.select("journey_id", "visit_no").is_unique().all()
    assert visits.select("journey_id", "queue").is_unique().all()  # one visit per (journey, queue)
    assert visits["outcome"].is_in(["answered", "abandoned", "timeout"]).all()
    ans = visits.filter(pl.col("outcome") == "answered")
    assert ans["agent_id"].null_count() == 0 and ans["talk_seconds"].null_count() == 0
    assert (
        visits.filter(pl.col("outcome") != "answered")["agent_id"].null_count()
        == visits.height - ans.height
    )
    # a journey that reached a queue is answered when any of its visits was, else it ends as its
    # last visit did (abandoned, timed out)
    last = visits.sort("visit_no").group_by("journey_id").agg(
        pl.when((pl.col("outcome") == "answered").any()).then(pl.lit("answered"))
        .otherwise(pl.col("outcome").last()).alias("outcome"))
    j = journeys.join(last, on="journey_id", suffix="_visit")
    assert (j["outcome"] == j["outcome_visit"]).all()
    answered_then_left = visits.group_by("journey_id").agg(
        (pl.col("outcome") == "answered").any() & (pl.col("outcome") != "answered").any())
    assert answered_then_left["outcome"].any()  # the rule above is exercised
    # every kind of call is there
    kinds = set(journeys.select(pl.concat_str("direction", "call_type", separator="/")).to_series())
    assert {"inbound/service", "inbound/card_block", "outbound/collections", "internal/internal",
            "outbound/national"} <= kinds  # fmt: skip
    assert {"ai_agent", "pstn", "internal"} <= set(journeys["channel_entry"])
    assert {"resolved", "escalated"} <= set(journeys["ai_outcome"].drop_nulls())


# ------------------------------------------------------------------------------------- linking


def test_legs_link_as_webex_links_them(site):
    _, _, recs, _, journeys, _ = site
    by_local = {r["Local call ID"]: r for r in recs}
    assert len(by_local) == len(recs)
    assert len({r["Report ID"] for r in recs}) == len(recs)
    # every record's Correlation ID belongs to exactly one journey; every record to one journey
    corr_owner: dict[str, str] = {}
    rid_owner: dict[str, str] = {}
    for jid, corrs, rids in journeys.select(
        "journey_id", "correlation_ids", "report_ids"
    ).iter_rows():
        for c in corrs:
            assert c not in corr_owner
            corr_owner[c] = jid
        for rid in rids:
            assert rid not in rid_owner
            rid_owner[rid] = jid
    assert set(rid_owner) == {r["Report ID"] for r in recs}
    for r in recs:
        jid = corr_owner[r["Correlation ID"]]
        assert rid_owner[r["Report ID"]] == jid
        if r["Remote call ID"]:
            peer = by_local[r["Remote call ID"]]
            assert peer["Remote call ID"] == r["Local call ID"]
            assert peer["Network call ID"] == r["Network call ID"]
            assert peer["Correlation ID"] == r["Correlation ID"]
            assert {peer["Direction"], r["Direction"]} == {"ORIGINATING", "TERMINATING"}
        if r["Related call ID"]:
            target = by_local[r["Related call ID"]]
            assert r["Related reason"] in ("Deflection", "CallQueue")
            assert target["Correlation ID"] == r["Correlation ID"]
            assert target["Redirecting party UUID"] == r["User UUID"]
            assert target["Start time"] >= r["Start time"]
        if r["Transfer related call ID"]:
            other = by_local[r["Transfer related call ID"]]
            assert other["Transfer related call ID"] == r["Local call ID"]
            assert other["Call transfer time"] == r["Call transfer time"] != ""
            assert other["User UUID"] == r["User UUID"]
            assert r["Related reason"] == "ConsultativeTransfer"
            assert other["Interaction ID"] == r["Interaction ID"]
            assert rid_owner[other["Report ID"]] == rid_owner[r["Report ID"]]
    # one Interaction ID per journey; AA and queue records of a call share its PSTN Network call ID
    inter = defaultdict(set)
    net = defaultdict(set)
    for r in recs:
        inter[rid_owner[r["Report ID"]]].add(r["Interaction ID"])
        if (
            r["User type"] in ("AutomatedAttendantVideo", "CallCenterStandard")
            and r["Direction"] == "TERMINATING"
        ):
            net[rid_owner[r["Report ID"]]].add(r["Network call ID"])
    assert all(len(v) == 1 for v in inter.values())
    assert all(len(v) == 1 for v in net.values())
    # the queue record points at the agent who answered; offers are redirected by the queue
    queues = [r for r in recs if r["User type"] == "CallCenterStandard"]
    assert queues
    for q in queues:
        if q["Related reason"] == "CallQueue":
            agent = by_local[q["Related call ID"]]
            assert agent["Answered"] == "true" and agent["Answer time"] == q["Release time"]
            assert (
                agent["Redirect reason"] == "CallQueue"
                and agent["Answer indicator"] == "Yes-PostRedirection"
            )


def test_consultative_transfers_and_ai_escalations_are_present(site):
    _, _, recs, _, journeys, _ = site
    consult = [r for r in recs if r["Transfer related call ID"]]
    assert consult, "no consultative transfer in the sample"
    assert {r["Direction"] for r in consult} == {"ORIGINATING", "TERMINATING"}
    vl = [r for r in recs if r["User type"] == "VirtualLine"]
    assert vl and all(r["Redirect reason"] == "Deflection" for r in vl)
    esc = [r for r in vl if r["Related call ID"]]
    assert esc and all(r["Related reason"] == "Deflection" and r["Call transfer time"] for r in esc)
    ai = journeys.filter(pl.col("channel_entry") == "ai_agent")
    assert ai.height == len(vl)
    assert ai.filter(pl.col("ai_outcome") == "escalated")["first_queue"].null_count() == 0
    assert ai.filter(pl.col("ai_outcome") == "resolved")["first_queue"].null_count() == ai.filter(
        pl.col("ai_outcome") == "resolved").height  # fmt: skip
    keys = Counter(
        r["Auto Attendant Key Pressed"] for r in recs if r["User type"] == "AutomatedAttendantVideo"
    )
    assert {"1", "3", "5"} <= set(keys)


def test_recording_fields(site):
    _, summary, recs, _, journeys, _ = site
    rec = [r for r in recs if r["Call Recording Result"]]
    assert rec
    for r in rec:
        assert r["Call Recording Platform Name"] == "Webex"
        assert r["Call Recording Result"] in ("successful", "failed", "successful but not kept")
        assert r["Call Recording Trigger"] in ("always", "on-demand")
        assert r["Answered"] == "true" and r["User type"] == "User"
    ok = sum(r["Call Recording Result"] == "successful" for r in rec)
    assert summary["webex"]["recorded_legs"] == ok
    assert journeys["recorded"].sum() > 0


# ------------------------------------------------------------------------------------- KPIs


def _visits_from_cdr(recs: list[dict]) -> pl.DataFrame:
    """Queue visits rebuilt from raw legs alone (reference/webex.md §1.9 step 4)."""
    by_local = {r["Local call ID"]: r for r in recs}
    rows = []
    for q in recs:
        if q["User type"] != "CallCenterStandard":
            continue
        start = _ms(q["Start time"])
        if q["Related reason"] == "CallQueue":
            agent = by_local[q["Related call ID"]]
            outcome, end = "answered", _ms(agent["Answer time"])
            talk = (_ms(agent["Release time"]) - _ms(agent["Answer time"])) / 1000
        elif q["Releasing party"] == "Remote":
            outcome, end, talk = "abandoned", _ms(q["Release time"]), None
        else:
            outcome, end, talk = "timeout", _ms(q["Release time"]), None
        rows.append({"queue_uuid": q["User UUID"], "entered": start, "outcome": outcome,
                     "wait_seconds": (end - start) / 1000, "talk_seconds": talk})  # fmt: skip
    return pl.DataFrame(rows).with_columns(
        pl.col("entered")
        .cast(pl.Datetime("ms", "UTC"))
        .dt.convert_time_zone(TZ)
        .dt.date()
        .alias("local_day")
    )


def test_queue_kpis_recomputed_from_raw_legs_agree_with_truth(site):
    out, summary, recs, _, _, visits = site
    sl, short = summary["sl_seconds"], summary["short_abandon_seconds"]
    raw = _visits_from_cdr(recs)
    assert raw.height == visits.height
    qname = dict(visits.select("queue_uuid", "queue").unique().iter_rows())
    raw = raw.with_columns(pl.col("queue_uuid").replace_strict(qname).alias("queue"))
    o, w = pl.col("outcome"), pl.col("wait_seconds")
    mine = (
        raw.group_by("queue", "local_day")
        .agg(
            pl.len().alias("offered"),
            (o == "answered").sum().alias("answered"),
            (o == "abandoned").sum().alias("abandoned"),
            ((o == "abandoned") & (w <= short)).sum().alias("short_abandons"),
            (o == "timeout").sum().alias("timeouts"),
            ((o == "answered") & (w <= sl)).sum().alias("answered_within_sl"),
            w.filter(o == "answered").mean().alias("asa_seconds"),
            pl.col("talk_seconds").filter(o == "answered").mean().alias("avg_talk_seconds"),
        )
        .sort("local_day", "queue")
    )
    truth = pl.read_parquet(out / "truth" / "kpi_queue_daily.parquet").sort("local_day", "queue")
    assert truth["timezone"].unique().to_list() == [TZ]
    cols = ["offered", "answered", "abandoned", "short_abandons", "timeouts", "answered_within_sl"]
    assert mine.select("queue", "local_day", *cols).cast({c: pl.Int64 for c in cols}).equals(
        truth.select("queue", "local_day", *cols))  # fmt: skip
    for c in ("asa_seconds", "avg_talk_seconds"):
        a, b = mine[c].fill_null(-1).to_list(), truth[c].fill_null(-1).to_list()
        assert all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True)), c
    sl_truth = truth["answered_within_sl"] / (truth["offered"] - truth["short_abandons"])
    assert ((sl_truth - truth["service_level"]).abs().fill_nan(0) < 1e-9).all()
    # a contact center that works, but not a perfect one
    tot = truth.select(
        pl.col("offered", "answered", "abandoned", "answered_within_sl", "short_abandons").sum()
    ).row(0, named=True)
    assert 0.6 < tot["answered"] / tot["offered"] < 0.98
    assert 0.02 < tot["abandoned"] / tot["offered"] < 0.35


def test_agent_kpis_recomputed_from_raw_legs_agree_with_truth(site):
    out, _, recs, _, _, visits = site
    people = orjson.loads((out / "webex" / "people.json").read_bytes())
    uuid_of = {p["id"]: base64.b64decode(p["id"] + "==").decode().rsplit("/", 1)[1] for p in people}
    agent_by_uuid = {}
    agents = pl.read_parquet(out / "truth" / "agents.parquet")
    for agent_id, wid in agents.select("agent_id", "webex_id").iter_rows():
        agent_by_uuid[uuid_of[wid]] = agent_id
    by_local = {r["Local call ID"]: r for r in recs}
    day_of_offer = {}
    for q in recs:  # offers belong to the day their queue visit started
        if q["User type"] == "CallCenterStandard":
            day = datetime.fromtimestamp(_ms(q["Start time"]) / 1000, ZoneInfo(TZ)).date()
            day_of_offer[(q["Correlation ID"], q["User UUID"])] = day
    answered, offers, rna = Counter(), Counter(), Counter()
    for r in recs:
        if r["User type"] == "User" and r["Redirect reason"] == "CallQueue":
            key = (
                agent_by_uuid[r["User UUID"]],
                day_of_offer[(r["Correlation ID"], r["Redirecting party UUID"])],
            )
            offers[key] += 1
            rna[key] += r["Call outcome reason"] == "NoAnswer"
            answered[key] += r["Answered"] == "true"
    truth = pl.read_parquet(out / "truth" / "kpi_agent_daily.parquet")
    for agent_id, day, n_off, n_ans, n_rna in truth.select(
        "agent_id", "local_day", "offers", "answered", "ring_no_answer"
    ).iter_rows():
        assert offers[(agent_id, day)] == n_off
        assert answered[(agent_id, day)] == n_ans
        assert rna[(agent_id, day)] == n_rna
    assert sum(offers.values()) == truth["offers"].sum()
    assert truth["staffed_seconds"].sum() > 0 and truth["paused_seconds"].sum() > 0
    del by_local, visits


# ------------------------------------------------------------------------------------- directory, CSV


def test_people_and_locations_ids_decode_to_the_cdr_uuids(site):
    out, _, recs, _, _, _ = site

    def raw(wid: str) -> tuple[str, str]:
        kind_uuid = base64.b64decode(wid + "=" * (-len(wid) % 4)).decode()
        assert kind_uuid.startswith("ciscospark://us/")
        _, kind, uuid = kind_uuid.rsplit("/", 2)
        return kind, uuid

    people = orjson.loads((out / "webex" / "people.json").read_bytes())
    locs = orjson.loads((out / "webex" / "locations.json").read_bytes())
    person_uuids = set()
    for p in people:
        kind, uuid = raw(p["id"])
        assert kind == "PEOPLE"
        person_uuids.add(uuid)
    loc_names = {}
    for loc in locs:
        kind, uuid = raw(loc["id"])
        assert kind == "LOCATION"
        loc_names[uuid] = loc["name"]
    for r in recs:
        if r["User type"] == "User":
            assert r["User UUID"] in person_uuids
        assert loc_names[r["Site UUID"]] == r["Location"]
    assert {raw(p["locationId"])[1] for p in people} <= set(loc_names)


def test_control_hub_csv(site):
    out, summary, recs, _, _, _ = site
    path = out / summary["webex"]["control_hub_csv"]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == KEYS
    day = date(2026, 3, 13)
    want = sorted(r["Report ID"] for r in recs
                  if datetime.fromtimestamp(_ms(r["Start time"]) / 1000, ZoneInfo(TZ)).date() == day)  # fmt: skip
    got = sorted(row[KEYS.index("Report ID")] for row in rows[1:])
    assert got == want and len(got) == summary["webex"]["control_hub_rows"]


def test_manifest_truth_meta_and_asterisk_site(site):
    out, summary, _, _, journeys, visits = site
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["seed"] == 11 and manifest["truth_timezone"] == TZ
    meta = orjson.loads((out / "truth" / "meta.json").read_bytes())
    assert meta["timezone"] == TZ
    assert (
        manifest["truth"]["journeys"] == journeys.height
        and manifest["truth"]["visits"] == visits.height
    )
    assert (out / "asterisk" / "cali" / "queue_log").stat().st_size > 0
    assert (out / "truth" / "asterisk" / "visits.parquet").exists()
    cust = pl.read_parquet(out / "truth" / "customers.parquet")
    assert set(journeys["customer_id"].drop_nulls()) <= set(cust["customer_id"])
    # local days are in the reporting zone
    v = visits.with_columns(pl.col("entered_at").dt.convert_time_zone(TZ).dt.date().alias("check"))
    assert (v["check"] == v["local_day"]).all()


def test_the_reporting_time_zone_moves_the_day_boundaries(tmp_path):
    s = simulate(tmp_path / "o", agents=6, days=1, seed=2, timezone="UTC", asterisk=False, channels=False)
    assert s["truth_timezone"] == "UTC"
    v = pl.read_parquet(tmp_path / "o" / "truth" / "visits.parquet")
    assert (v["entered_at"].dt.date() == v["local_day"]).all()
    assert pl.read_parquet(tmp_path / "o" / "truth" / "kpi_queue_daily.parquet")[
        "timezone"
    ].unique().to_list() == ["UTC"]


# ------------------------------------------------------------------------------------- determinism


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "manifest.json"}  # fmt: skip


def test_same_seed_same_bytes(tmp_path):
    kw = dict(
        agents=8, days=1, start=date(2026, 3, 16), asterisk=False, channels=False, timezone=TZ
    )
    simulate(tmp_path / "a", seed=5, **kw)
    simulate(tmp_path / "b", seed=5, **kw)
    simulate(tmp_path / "c", seed=6, **kw)
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert a.keys() == b.keys()
    for k in a:
        if k.endswith(".parquet"):
            assert pl.read_parquet(tmp_path / "a" / k).equals(
                pl.read_parquet(tmp_path / "b" / k)
            ), k
        else:
            assert a[k] == b[k], k
    cdr = [k for k in a if k.startswith("webex/cdr/")]
    assert cdr and any(a[k] != c.get(k) for k in cdr)


# ------------------------------------------------------------------------------------- population


def test_population_numbers_and_whatsapp_ids():
    pop = build_population(4, 4000, 30)
    assert (
        pop == build_population(4, 4000, 30)
        or pop.customers == build_population(4, 4000, 30).customers
    )
    countries = Counter(c.country for c in pop.customers)
    assert countries["CO"] > 3000 and countries["MX"] and countries["AR"] and countries["US"]
    for c in pop.customers:
        for p in c.phones:
            n = phonenumbers.parse(p.e164)
            assert phonenumbers.is_valid_number(n), p.e164
            assert phonenumbers.region_code_for_number(n) == p.country
        if c.whatsapp_id and c.phones[0].country == "MX":
            assert c.whatsapp_id.startswith("521") and len(c.whatsapp_id) == 13
            assert match_key(c.whatsapp_id) == match_key(c.phones[0].e164)
        if c.whatsapp_id and c.phones[0].country == "AR":
            assert c.whatsapp_id.startswith("549")
        if c.whatsapp_id and c.phones[0].country == "CO":
            assert c.whatsapp_id == c.phones[0].e164[1:]
    co = [p for c in pop.customers for p in c.phones if p.country == "CO"]
    assert {p.type for p in co} == {"mobile", "fixed_line"}
    assert all(p.e164[3] == "3" for p in co if p.type == "mobile")
    assert all(p.e164[3:6] in ("601", "602", "604", "605") for p in co if p.type == "fixed_line")
    agents = [a for a in pop.agents if a.role == "agent"]
    assert len(agents) + sum(a.role == "collections" for a in pop.agents) == 30
    assert len({a.extension for a in pop.agents}) == len(pop.agents)
    assert len({a.user_uuid for a in pop.agents}) == len(pop.agents)


# ------------------------------------------------------------------------------------- CLI


def test_switchboard_simulate_command(tmp_path, capsys, monkeypatch):
    from switchboard.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_SL_SECONDS", "30")  # the deployment's thresholds reach the truth
    monkeypatch.setenv("SWITCHBOARD_SHORT_ABANDON_SECONDS", "8")
    rc = main(["simulate", "--out", str(tmp_path / "o"), "--agents", "4", "--start", "2026-03-16",
               "--end", "2026-03-17", "--seed", "3", "--no-asterisk", "--no-channels"])  # fmt: skip
    assert rc == 0
    printed = orjson.loads(capsys.readouterr().out)
    manifest = orjson.loads((tmp_path / "o" / "manifest.json").read_bytes())
    assert printed["webex"]["records"] == manifest["webex"]["records"] > 0
    assert manifest["start"] == "2026-03-16" and manifest["days"] == 1
    meta = orjson.loads((tmp_path / "o" / "truth" / "meta.json").read_bytes())
    assert (meta["timezone"], meta["sl_seconds"], meta["short_abandon_seconds"]) == ("America/Bogota", 30, 8)
    with pytest.raises(SystemExit) as refused:  # (the argument parser refuses 0 agents)
        main(["simulate", "--out", str(tmp_path / "p"), "--agents", "0"])
    assert refused.value.code == 2 and not (tmp_path / "p").exists()


def test_outbound_traffic_mix_is_normal_behaviour(site):
    """The dialer calls Colombian numbers only; international calls are few and from few users."""
    _, _, recs, _, journeys, _ = site
    out = [
        r for r in recs if r["Direction"] == "ORIGINATING" and r["Call type"] != "SIP_ENTERPRISE"
    ]
    dialer = [r for r in out if r["Caller ID number"] == "+576017460300"]
    assert len(dialer) > len(out) / 2
    assert {r["Call type"] for r in dialer} <= {"SIP_MOBILE", "SIP_NATIONAL"}
    intl = [r for r in out if r["Call type"] == "SIP_INTERNATIONAL"]
    assert len(intl) <= 0.01 * len(out)
    assert all(r["International country"] and r["Dialed digits"].startswith("00") for r in intl)
    assert len({r["User UUID"] for r in intl}) <= 8
    assert not any(
        r["Called number"].startswith(("+57190", "+979")) for r in out
    )  # no premium rate
    assert journeys.filter(pl.col("call_type") == "international").height == len(intl)


def test_colombian_numbers_are_valid_by_construction():
    import random

    from simulator.population import co_landline, co_mobile

    r = random.Random(9)
    for _ in range(5000):
        for n in (co_mobile(r), co_landline(r)):
            assert phonenumbers.is_valid_number(phonenumbers.parse(n)), n
