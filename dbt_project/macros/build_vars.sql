{#
  Metric settings written into an incremental model's rows (the reporting time zone in local
  dates, the short-abandon threshold in a flag, ...) are named in the model's config:
  meta={'rows_depend_on_vars': [...]}. Each build records their values for the model
  (record_build_vars, a post-hook of every model, so in the model's own transaction), and
  incremental_ready() rebuilds the model in full when they changed since: an incremental run
  rewrites only the newest boots, so a new time zone or threshold would apply to those alone and
  one mart would mix two definitions. A model recorded under no values (built before this
  table existed) is taken as built under the current ones.
#}

{% macro build_vars_relation() -%}
    intermediate.dbt_model_build_vars
{%- endmacro %}

{# on-run-start: the record exists before any model asks it (stable schema name: DESIGN.md) #}
{% macro create_build_vars_relation() -%}
    create schema if not exists intermediate;
    create table if not exists {{ build_vars_relation() }} (
        model_name varchar(256) primary key,
        build_vars varchar(4000) not null,
        dbt_refreshed_at timestamp not null
    )
{%- endmacro %}

{# 'name=value;...' of the vars the current model's rows depend on ('' when none) #}
{% macro build_vars_text() -%}
    {%- set names = (config.get('meta') or {}).get('rows_depend_on_vars', []) -%}
    {%- set parts = [] -%}
    {%- for name in names | sort -%}
        {%- do parts.append(name ~ '=' ~ var(name)) -%}
    {%- endfor -%}
    {{ return(parts | join(';')) }}
{%- endmacro %}

{# true when the model was last built under other values of those vars #}
{% macro built_under_other_vars() -%}
    {%- set wanted = build_vars_text() -%}
    {%- if not execute or not wanted -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set recorded = run_query(
        "select build_vars from " ~ build_vars_relation() ~ " where model_name = '" ~ this.identifier ~ "'"
    ) -%}
    {{ return(recorded.rows | length > 0 and recorded.rows[0][0] != wanted) }}
{%- endmacro %}

{% macro record_build_vars() -%}
    {%- set wanted = build_vars_text() -%}
    {%- if wanted and config.get('materialized') == 'incremental' -%}
        insert into {{ build_vars_relation() }} (model_name, build_vars, dbt_refreshed_at)
        values ('{{ this.identifier }}', '{{ wanted | replace("'", "''") }}', {{ run_started_at_literal() }})
        on conflict (model_name) do update set build_vars = excluded.build_vars, dbt_refreshed_at = excluded.dbt_refreshed_at
    {%- endif -%}
{%- endmacro %}
