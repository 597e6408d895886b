"""Raw Asterisk assets: one dlt load writes raw_asterisk's tables, one asset per table.

A single read pass over a log produces its lines *and* its rejects, so the tables of the Asterisk
source are materialized together (not subsettable): selecting any `raw/asterisk/*` key loads the
source. Each table's materialization carries the load's counts (lines read = loaded + rejected +
skipped) and dlt's load id. The same run then classifies the phone numbers the load brought
(raw_asterisk.phone_numbers, pipelines/asterisk/numbers.py).
"""


import dagster as dg

from pipelines.asterisk.numbers import classify_new_numbers
from pipelines.asterisk.pipeline import run_load
from pipelines.asterisk.source import AsteriskConfig, IngestReport
from pipelines.dlt_logging import quiet_dlt_hints
from resources.dbt import raw_table_metadata
from resources.warehouse import WAREHOUSE_POOL
from switchboard.settings import Settings

# table → (the dlt resource whose counts describe it, description)
RAW_ASTERISK_TABLES = {
    "queue_log": ("queue_log", "Asterisk queue_log file lines, one row per well-formed line, in file order."),
    "queue_log_rejects": ("queue_log", "queue_log lines (file and realtime exports) that could not be read, "
                                       "with the reason, position and exact text."),
    "log_streams": ("queue_log", "Every log stream read (queue_log and Master.csv files): its PBX, the file it was "
                                 "last read from, its first line and how far it has been read."),
    "queue_log_table": ("queue_log_table", "Realtime queue_log table exports (MySQL dump / CSV) in the file layout."),
    "cdr": ("cdr", "Asterisk cdr-csv Master.csv rows, typed and deduplicated."),
    "cdr_rejects": ("cdr", "Master.csv rows that could not be read, with the reason and exact text."),
}
PHONE_NUMBERS_DESCRIPTION = ("Each distinct phone number text of the Asterisk tables (callers, DIDs, Master.csv src/dst) "
                             "with its E.164 form, country and type, classified by phonenumbers.")


def raw_asterisk_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", "asterisk", table])


def build_asterisk_raw_assets(settings: Settings) -> dg.AssetsDefinition:
    AsteriskConfig.from_settings(settings)  # fail fast, naming the setting, on a bad location
    quiet_dlt_hints()
    kind = "duckdb" if settings.warehouse.is_duckdb else "postgres"
    described = {**{t: d for t, (_r, d) in RAW_ASTERISK_TABLES.items()}, "phone_numbers": PHONE_NUMBERS_DESCRIPTION}
    tables = raw_table_metadata("raw_asterisk", described)
    specs = [
        dg.AssetSpec(raw_asterisk_key(table), description=description, group_name="raw", kinds={"dlt", kind},
                     metadata=tables[table])
        for table, description in described.items()
    ]

    @dg.multi_asset(specs=specs, name="asterisk_raw", can_subset=False, pool=WAREHOUSE_POOL)
    def asterisk_raw(context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]):
        report = run_load(settings, IngestReport())
        for table, (resource, _description) in RAW_ASTERISK_TABLES.items():
            counts = report.counts(resource)
            if not counts.balanced:  # cannot happen by construction; never hide it if it does
                raise RuntimeError(f"{resource}: lines read do not add up: {counts.as_metadata()}")
            if table == resource:
                context.log.info(f"{resource}: {counts.as_metadata()}")
            yield dg.MaterializeResult(asset_key=raw_asterisk_key(table), metadata={
                "load_id": report.load_id or "", "source_resource": resource, **counts.as_metadata()})
        added = classify_new_numbers(settings)
        context.log.info(f"phone_numbers: {added} new number texts classified")
        yield dg.MaterializeResult(asset_key=raw_asterisk_key("phone_numbers"), metadata={"numbers_added": added})

    return asterisk_raw
