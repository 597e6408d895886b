"""Great Expectations suites run as Dagster asset checks on raw and mart tables.

Each suite reads only the columns its expectations need and, on tables that grow with the
history, only the rows of the newest write (raw: the newest load; fct_queue_visits: the visits the
newest dbt run wrote, as its dbt tests do), and validates them with GX's pandas engine.
`great_expectations` is imported inside the check (~3 s to import on a 2-core machine; code
locations must load fast).
dbt's own tests arrive as checks too. On the raw tables these suites are the only checks; on
the marts they state the blocking rules (ranges, cross-column and the reconciliation of offered
with the outcome counts) a second time, in another engine (the issue asks for GX reconciliation),
so a mistake in one of the project's hand-written dbt generic tests does not let a broken rule
through unseen. A rule changes in `_marts__models.yml` and here together.
"""


import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from pipelines.asterisk.queue_log_parser import MAX_EPOCH, MIN_EPOCH
from resources.warehouse import WAREHOUSE_POOL, WarehouseResource
from switchboard.gc_freeze import existing_objects_frozen

OUTCOMES = ["answered", "abandoned", "timeout", "exit_key", "exit_empty", "join_empty", "open", "other"]


@dataclass(frozen=True)
class Suite:
    """Expectations for one table; `build` gets the `great_expectations.expectations` module."""

    name: str
    asset_key: dg.AssetKey
    schema: str
    table: str
    description: str
    build: Callable[[object], list[object]]
    columns: str = "*"
    # a timestamp column every write stamps (loaded_at, dbt_refreshed_at): only the rows of the
    # newest write are read. Rows written before were checked by the run that wrote them; reading
    # them all again would cost every run time and memory in proportion to the whole history
    # (100k lines appended to a 10M-line queue_log: the 58k visits rewritten in 0.23 s, against
    # all 2.3M in 6.1 s and 1.6 GB). A new visit cannot share its id with an older one: the
    # model's delete+insert on visit_id removes the older row (as its dbt `unique` test notes).
    newest_only_by: str | None = None
    # rows that an expectation compares with each other (a uniqueness) share this expression's
    # value: the rows are validated in batches of whole values, at most BATCH_ROWS rows each, so
    # a first load of a long history does not have to fit in memory at once
    batch_key: str | None = None
    blocking: bool = False

    @property
    def scope(self) -> str:
        """Which rows the suite reads, as the check's metadata says."""
        if self.newest_only_by:
            return f"the newest write's ({self.newest_only_by} = its latest value)"
        return "all"

    @property
    def relation(self) -> str:
        return f'{self.schema}."{self.table}"'

    @property
    def row_filter(self) -> str:
        if self.newest_only_by:
            stamp = self.newest_only_by
            return f"{stamp} = (select max({stamp}) from {self.relation})"
        return "true"

    @property
    def _batch_key(self) -> str:
        # a null key would fall outside every range (between compares it as unknown)
        return f"coalesce({self.batch_key}, '')"

    @property
    def batch_plan_query(self) -> str | None:
        """Rows per batch-key value, in the key's order (None when the suite reads in one batch)."""
        if not self.batch_key:
            return None
        return (f"select batch_key, count(*) as row_count from (select {self._batch_key} as batch_key "
                f"from {self.relation} where {self.row_filter}) as keyed group by batch_key order by batch_key")

    def batch_query(self, ranged: bool) -> str:
        """The rows the expectations read; `ranged`: those whose batch key lies between two values."""
        sql = f"select {self.columns} from {self.relation} where {self.row_filter}"
        return sql + f" and {self._batch_key} between ? and ?" if ranged else sql


BATCH_ROWS = 1_000_000


def batch_ranges(row_counts: list[tuple[object, int]], limit: int) -> list[tuple[object, object]]:
    """(first, last) key ranges of consecutive keys, in order, holding at most `limit` rows each; a
    key with more rows than that is a range of its own (its rows cannot be split)."""
    ranges: list[tuple[object, object]] = []
    first = last = None
    rows = 0
    for key, count in row_counts:
        if rows and rows + count > limit:
            ranges.append((first, last))
            rows = 0
        if not rows:
            first = key
        last, rows = key, rows + count
    if rows:
        ranges.append((first, last))
    return ranges


def _raw_queue_log(gxe) -> list[object]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="event_epoch"),
        gxe.ExpectColumnValuesToNotBeNull(column="event"),
        gxe.ExpectColumnValuesToBeBetween(column="event_epoch", min_value=MIN_EPOCH, max_value=MAX_EPOCH),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["source_stream", "line_no"]),
    ]


def _fct_queue_visits(gxe) -> list[object]:
    return [
        gxe.ExpectColumnValuesToBeUnique(column="visit_id"),
        gxe.ExpectColumnValuesToBeInSet(column="outcome", value_set=OUTCOMES),
        gxe.ExpectColumnValuesToBeBetween(column="wait_seconds", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="talk_seconds", min_value=0),
        gxe.ExpectColumnValuesToBeNull(
            column="talk_seconds", row_condition='outcome != "answered"', condition_parser="pandas",
            description="only answered visits have talk time",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ended_at", column_B="entered_at", or_equal=True, ignore_row_if="either_value_is_missing",
            description="a visit does not end before it starts",
        ),
    ]


_OUTCOME_TOTAL = "*, answered + abandoned + timeouts + other_unanswered + open_visits as outcome_total"


def _agg_queue(gxe) -> list[object]:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="offered", column_B="outcome_total",
            description="offered = answered + abandoned + timeouts + other unanswered + open",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="abandoned", column_B="short_abandons", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="answered", column_B="answered_within_sl", or_equal=True),
        gxe.ExpectColumnValuesToBeBetween(column="service_level", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="abandon_rate", min_value=0, max_value=1),
    ]


# days are local days of SWITCHBOARD_TIMEZONE: the one that ends daylight saving lasts 25 hours
LONGEST_DAY_SECONDS = 25 * 3600


def _agg_agent_daily(gxe) -> list[object]:
    return [
        gxe.ExpectColumnValuesToBeBetween(column="logged_in_seconds", min_value=0, max_value=LONGEST_DAY_SECONDS),
        gxe.ExpectColumnValuesToBeBetween(column="paused_seconds", min_value=0, max_value=LONGEST_DAY_SECONDS),
        gxe.ExpectColumnValuesToBeBetween(column="occupancy", min_value=0),
    ]


SUITES = (
    Suite("raw_queue_log_expectations", dg.AssetKey(["raw", "asterisk", "queue_log"]), "raw_asterisk", "queue_log",
          "The newest load's queue_log lines have a plausible epoch, an event, and a unique (stream, line) identity.",
          _raw_queue_log, columns="source_stream, line_no, event_epoch, event", newest_only_by="loaded_at",
          # a million lines of one stream per value: copies of a (stream, line) share it
          batch_key="source_stream || '/' || cast(cast(floor(line_no / 1000000.0) as bigint) as varchar)"),
    Suite("fct_queue_visits_expectations", dg.AssetKey(["marts", "fct_queue_visits"]), "marts", "fct_queue_visits",
          "The visits the newest dbt run wrote have one known outcome, non-negative durations, and end after "
          "they start.", _fct_queue_visits,
          columns="visit_id, outcome, wait_seconds, talk_seconds, entered_at, ended_at",
          newest_only_by="dbt_refreshed_at", batch_key="substr(visit_id, 1, 2)", blocking=True),
    Suite("agg_queue_daily_reconciles", dg.AssetKey(["marts", "agg_queue_daily"]), "marts", "agg_queue_daily",
          "Daily queue figures reconcile: offered equals the sum of outcome counts; ratios within [0, 1].", _agg_queue,
          columns=_OUTCOME_TOTAL, blocking=True),
    Suite("agg_queue_interval_reconciles", dg.AssetKey(["marts", "agg_queue_interval"]), "marts", "agg_queue_interval",
          "15-minute queue figures reconcile like the daily ones.", _agg_queue, columns=_OUTCOME_TOTAL,
          blocking=True),
    Suite("agg_agent_daily_expectations", dg.AssetKey(["marts", "agg_agent_daily"]), "marts", "agg_agent_daily",
          "Agent days: logged-in and paused time within a day, occupancy not negative.", _agg_agent_daily),
)


def run_suite(suite: Suite, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Validate the suite's rows with GX's pandas engine, batch by batch (see Suite.batch_key).

    GX's SQL engine over duckdb-engine/DuckDB 2.0 fails on several metrics ("list index out of
    range", schema dropped from column-type queries), so the check pulls only the columns its
    expectations need, with the filter the suite declares (the newest write only). A failed
    expectation's unexpected rows are summed over the batches.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no telemetry: there is no network
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        ctx.data_sources.add_pandas("warehouse")
        .add_dataframe_asset(suite.table)
        .add_batch_definition_whole_dataframe("all")
    )
    expectations = gx.ExpectationSuite(name=suite.name)
    for expectation in suite.build(gxe):
        expectations.add_expectation(expectation)

    plan = suite.batch_plan_query
    row_counts = warehouse.query(plan).rows() if plan else []
    planned = sum(count for _, count in row_counts)
    ranges = batch_ranges(row_counts, BATCH_ROWS)
    if ranges:
        frames = (warehouse.query(suite.batch_query(ranged=True), list(r)) for r in ranges)
    else:  # one batch, even an empty one (GX still checks the columns)
        frames = [warehouse.query(suite.batch_query(ranged=False))]
    rows_checked = 0
    failed: dict[str, dict] = {}  # by expectation, over all batches
    for frame in frames:
        rows_checked += frame.height
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame.to_pandas()}).validate(expectations)
        for r in result.results:
            if r.success:
                continue
            key = json.dumps(r.expectation_config.to_json_dict(), sort_keys=True, default=str)
            entry = failed.setdefault(key, {
                "expectation": r.expectation_config.type, "column": r.expectation_config.kwargs.get("column"),
                "description": r.expectation_config.description, "unexpected": 0, "error": None})
            entry["unexpected"] += r.result.get("unexpected_count") or 0
            entry["error"] = entry["error"] or (r.exception_info or {}).get("exception_message")
    if ranges and rows_checked != planned:
        # the ranges missed or repeated rows: a check that passed would not mean what it says
        raise RuntimeError(f"{suite.name}: the batches read {rows_checked:,} rows of the {planned:,} planned")
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows_checked": rows_checked, "rows": suite.scope, "batches": max(len(ranges), 1),
                  "expectations": len(expectations.expectations),
                  "failed_expectations": list(failed.values())},
    )


def build_quality_checks() -> list[dg.AssetChecksDefinition]:
    checks = []
    for suite in SUITES:
        checks.append(_check_for(suite))
    return checks


def _check_for(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=suite.asset_key,
        name=suite.name,
        description=suite.description,
        blocking=suite.blocking,
        pool=WAREHOUSE_POOL,  # DuckDB: one process at a time may open the file
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        # GX's first import in a run worker makes ~300k objects: the full collections it triggers
        # would each walk the worker's definitions too (1.2-1.4 s of them in a slow hour, 0.4-0.5 s
        # frozen; switchboard/gc_freeze.py)
        with existing_objects_frozen():
            return run_suite(suite, warehouse)

    return _check
