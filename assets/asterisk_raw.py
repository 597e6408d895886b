"""Raw Asterisk assets: dlt loads queue_log files, realtime exports and cdr-csv into raw_asterisk."""


import logging

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pipelines.asterisk.pipeline import asterisk_pipeline
from pipelines.asterisk.source import AsteriskConfig, IngestReport, asterisk_source
from switchboard.settings import Settings

WAREHOUSE_POOL = "warehouse_writer"

_RAW_DESCRIPTIONS = {
    "queue_log": "Asterisk queue_log file lines (raw_asterisk.queue_log), their rejects and per-stream read positions.",
    "queue_log_table": "Realtime queue_log table exports (MySQL dump / CSV) normalised to the file layout.",
    "cdr": "Asterisk cdr-csv Master.csv rows, typed and deduplicated, with rejects.",
}


class RawTranslator(DagsterDltTranslator):
    """Keys follow the layers: raw/<source>/<resource>; no phantom upstream assets."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey(["raw", self.source, data.resource.name]),
            deps=[],
            group_name="raw",
            description=_RAW_DESCRIPTIONS.get(data.resource.name, spec.description),
            kinds={"dlt", "duckdb" if "duckdb" in str(type(data.destination)).lower() else "postgres"},
        )


def build_asterisk_raw_assets(settings: Settings) -> dg.AssetsDefinition:
    config = AsteriskConfig.from_settings(settings)  # fails fast, naming the setting, on a bad location
    _quiet_dlt_arrow_hints()

    @dlt_assets(
        dlt_source=asterisk_source(config),
        dlt_pipeline=asterisk_pipeline(settings),
        name="asterisk_raw",
        dagster_dlt_translator=RawTranslator("asterisk"),
        pool=WAREHOUSE_POOL,
    )
    def asterisk_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource):
        report = IngestReport()
        results = list(
            dlt.run(context=context, dlt_source=asterisk_source(config, report), loader_file_format="parquet")
        )
        for result in results:
            resource = result.asset_key.path[-1]
            counts = report.counts(resource)
            if not counts.balanced:  # cannot happen by construction; never hide it if it does
                raise RuntimeError(f"{resource}: lines read do not add up: {counts.as_metadata()}")
            context.log.info(f"{resource}: {counts.as_metadata()}")
            yield dg.MaterializeResult(
                asset_key=result.asset_key,
                metadata={**(result.metadata or {}), **counts.as_metadata()},
            )

    return asterisk_raw


class _QuietArrowHints(logging.Filter):
    """dlt warns on every Arrow batch whose nullability differs from its schema; it changes nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


def _quiet_dlt_arrow_hints() -> None:
    logger = logging.getLogger("dlt")
    if not any(isinstance(f, _QuietArrowHints) for f in logger.filters):
        logger.addFilter(_QuietArrowHints())
