{#
  Helpers for the incremental models (see the "Incremental builds" note in
  models/staging/asterisk/_asterisk__models.yml).

  Every incremental model replaces a *region* of itself: per PBX, everything from a first
  event epoch (staging) or a first boot (intermediate and marts) onwards. A pre-hook writes
  the region to a temporary "plan" table and deletes it from the model; the model's SQL then
  rebuilds exactly that region from the plan, and delete+insert on the model's unique key
  writes it back. On a full refresh (or the first run) the hooks render to nothing and the
  model is built from scratch.
#}

{# When this run started (UTC, no zone): stamped on every row an incremental model (re)writes. #}
{% macro run_started_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}


{# A plan table is a temporary table of the model's session (dropped with it). #}
{% macro plan_relation(name) -%}
    {{ return(adapter.dispatch('plan_relation', 'switchboard')(name)) }}
{%- endmacro %}

{% macro default__plan_relation(name) -%}
    pg_temp.{{ name }}
{%- endmacro %}

{% macro duckdb__plan_relation(name) -%}
    temp.main.{{ name }}
{%- endmacro %}


{% macro create_plan_table(name, sql) -%}
    {{ return(adapter.dispatch('create_plan_table', 'switchboard')(name, sql)) }}
{%- endmacro %}

{# analyzed: Postgres leaves a temporary table without statistics (macros/planner.sql) #}
{% macro default__create_plan_table(name, sql) -%}
    drop table if exists {{ plan_relation(name) }};
    create temporary table {{ name }} as {{ sql }};
    analyze {{ plan_relation(name) }}
{%- endmacro %}

{% macro duckdb__create_plan_table(name, sql) -%}
    create or replace temporary table {{ name }} as {{ sql }}
{%- endmacro %}


{#
  A 64-bit-ish fingerprint of several columns, used only to find *candidate* exact duplicates
  cheaply (candidates are then compared field by field, so collisions cost nothing but time).
#}
{% macro row_fingerprint(columns) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'switchboard')(columns)) }}
{%- endmacro %}

{% macro default__row_fingerprint(columns) -%}
    md5(
    {%- for c in columns -%}
        coalesce(cast({{ c }} as {{ dbt.type_string() }}), chr(1))
        {%- if not loop.last %} || chr(2) || {% endif -%}
    {%- endfor -%}
    )
{%- endmacro %}

{% macro duckdb__row_fingerprint(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}


{# Lowest possible epoch: a region that starts here covers all of a PBX's data. #}
{% macro epoch_floor() -%}
    cast(-9000000000000000000 as bigint)
{%- endmacro %}


{#
  True when this run updates the model in place: dbt's is_incremental(), the existing table
  already carries dbt_refreshed_at, and it was built under the metric settings of this run
  (macros/build_vars.sql). A table built by an older version of the project (without
  dbt_refreshed_at) or under other settings is rebuilt in full once; on_schema_change=
  'append_new_columns' adds the new columns to it.
#}
{% macro incremental_ready() -%}
    {%- if not is_incremental() or not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('dbt_refreshed_at' in names and not built_under_other_vars()) }}
{%- endmacro %}
