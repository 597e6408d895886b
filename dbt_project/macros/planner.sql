{#
  The Postgres planner: statistics and join methods. DuckDB keeps its statistics as it writes
  and plans by its own estimates: every macro here renders to nothing on DuckDB.

  Statistics. Postgres plans a query by the statistics of the tables it reads, and a table dbt
  has just written has none until autovacuum gets to it (a minute or more later, while the next
  model starts at once). Without them a chain of joins is estimated at one row and runs as
  nested loops: int_asterisk__queue_visits ran for more than 9 minutes on 15k queue_log lines
  instead of seconds (independent audit). So every table a run writes is analyzed as soon as it
  is written, and the raw tables a load changed at the start of the run.
#}

{# analyze a table on Postgres #}
{% macro analyze_table(relation) -%}
    {{ return(adapter.dispatch('analyze_table', 'switchboard')(relation)) }}
{%- endmacro %}

{% macro default__analyze_table(relation) -%}
    analyze {{ relation }}
{%- endmacro %}

{% macro duckdb__analyze_table(relation) -%}
{%- endmacro %}


{# post-hook of every model and seed: the relation just written, when it is a table #}
{% macro analyze_written_table() -%}
    {%- if config.get('materialized') in ('table', 'incremental', 'seed') -%}
        {{ analyze_table(this) }}
    {%- endif -%}
{%- endmacro %}


{#
  on-run-start: the source tables changed since their last analyze (a load just wrote them).
  A table autovacuum has analyzed since is left alone.
#}
{% macro analyze_changed_sources() -%}
    {{ return(adapter.dispatch('analyze_changed_sources', 'switchboard')()) }}
{%- endmacro %}

{% macro default__analyze_changed_sources() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() if source.schema not in schemas -%}
        {%- do schemas.append(source.schema) -%}
    {%- endfor -%}
    {%- if not schemas -%}{{ return('') }}{%- endif -%}
    {%- set stale = run_query(
        "select quote_ident(schemaname) || '.' || quote_ident(relname) from pg_stat_user_tables"
        ~ " where schemaname in ('" ~ schemas | join("', '") ~ "')"
        ~ " and (n_mod_since_analyze > 0 or coalesce(last_analyze, last_autoanalyze) is null)"
        ~ " order by 1"
    ) -%}
    {%- for row in stale.rows %}
        analyze {{ row[0] }};
    {%- endfor -%}
{%- endmacro %}

{% macro duckdb__analyze_changed_sources() -%}
{%- endmacro %}


{#
  pre-hook of every model: no nested-loop joins on Postgres (inside the model's transaction).
  The models join sets built in CTEs on keys of four or five columns (pbx, boot, callid, queue,
  visit). A CTE has no statistics, so Postgres multiplies five default selectivities, estimates
  such a join at one row and nests the next joins inside it: an incremental append of 15k
  queue_log lines to int_asterisk__queue_visits ran for more than 15 minutes, and under a second
  with hash joins. The warehouse tables carry no indexes, so a nested loop never wins by much
  here and a mis-estimated one loses by hours. (Postgres still nests when no other join method
  fits a condition.) DuckDB plans by its own cardinality estimates: nothing to do there.
#}
{% macro avoid_nested_loops() -%}
    {{ return(adapter.dispatch('avoid_nested_loops', 'switchboard')()) }}
{%- endmacro %}

{% macro default__avoid_nested_loops() -%}
    set local enable_nestloop = off
{%- endmacro %}

{% macro duckdb__avoid_nested_loops() -%}
{%- endmacro %}
