"""dbt models as Dagster assets: staging/*, intermediate/*, marts/*; dbt tests become asset checks."""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from pydantic import Field

from assets.automation import DAILY_FRESHNESS
from assets.dbt_check_descriptions import describe_dbt_test
from resources.dbt import (
    dbt_build_args,
    dbt_environment,
    dbt_executable,
    dbt_project,
    environment_set,
    keep_partial_parse,
    prune_run_folders,
)
from resources.warehouse import WAREHOUSE_POOL
from switchboard.settings import Settings

LAYERS = ("staging", "intermediate", "marts")
DBT_OP_NAME = "switchboard_dbt"  # the step that builds every dbt model (its run config: DbtBuildConfig)


class LayeredTranslator(DagsterDbtTranslator):
    """Models are keyed <layer>/<model> (the schema they land in); sources keep their meta asset_key."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed", "snapshot"):
            return spec
        layer = props.get("config", {}).get("schema") or "marts"
        return spec.replace_attributes(
            key=dg.AssetKey([layer, props["name"]]),
            group_name=layer if layer in LAYERS else "marts",
            automation_condition=dg.AutomationCondition.eager(),
            # what BI tools read directly: stale marts show in the UI
            freshness_policy=DAILY_FRESHNESS if layer == "marts" else None,
        )

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        # (an AssetCheckSpec is a NamedTuple: _replace is its public copy-with-changes)
        return spec._replace(description=describe_dbt_test(manifest["nodes"][unique_id]))


class DbtBuildConfig(dg.Config):
    """The dbt step's run config (launchpad, `switchboard materialize --full-refresh`)."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the selected incremental models from scratch (dbt's --full-refresh), "
        "as the CHANGELOG asks after a change to how their rows are built.")


def build_dbt_assets(settings: Settings) -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        # code references: the UI links each model to its SQL file
        dagster_dbt_translator=LayeredTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=True)),
        pool=WAREHOUSE_POOL,
        name=DBT_OP_NAME,
    )
    def switchboard_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
        # The dbt process inherits this run worker's environment (dagster-dbt starts it in cli()):
        # point its profile at the warehouse.
        with environment_set(dbt_environment(settings)):
            invocation = dbt.cli(dbt_build_args(settings, full_refresh=config.full_refresh), context=context)
        try:
            yield from invocation.stream()
            keep_partial_parse(invocation.target_path, project)
        finally:
            # after a failed run too (its own folder, the newest, stays to be read); never in
            # place of the run's own error
            folders = invocation.target_path.parent
            try:
                removed = prune_run_folders(folders, context.op_execution_context.op.name,
                                            settings.dbt_run_folders_kept)
            except OSError as exc:
                context.log.warning(f"old dbt run folders in {folders} not pruned: {exc}")
            else:
                if removed:
                    context.log.info(f"removed {len(removed)} old dbt run folders from {folders}")

    return switchboard_dbt


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
