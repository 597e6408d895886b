{#
  Data tests of the tables that grow with the history read only the rows written since those
  tests last all passed: `where: "__rows_since_tests_passed__"` in a test's config; a unique test
  `where: "key in (select key from <table> where __rows_since_tests_passed__)"`, those rows' keys
  counted over the whole table, so a key written again beside its old row is found. Testing
  every row of the staged lines or the visits after each append would cost more than the
  append's models; testing only the newest write left rows a failed test had found unchecked as
  soon as a later run wrote elsewhere (a visit stored twice by one run was published by the
  next, whose test passed on its own rows). The end of each run records, per model, the newest
  row its scoped tests all passed on (record_tests_passed); a run in which one of them failed, or
  did not run, records nothing for that model, so its rows are tested again by every later run
  until the tests pass: after a rebuild that replaces them.
#}

{% macro tests_passed_relation() -%}
    intermediate.dbt_tests_passed_through
{%- endmacro %}

{# on-run-start: the record exists before any test reads it (stable schema name: DESIGN.md) #}
{% macro create_tests_passed_relation() -%}
    create schema if not exists intermediate;
    create table if not exists {{ tests_passed_relation() }} (
        model_name varchar(256) primary key,
        passed_through timestamp not null
    )
{%- endmacro %}

{# dbt's filter of a test's relation (the global get_where_subquery), with the placeholder expanded #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if not where -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set where = where | replace('__rows_since_tests_passed__', rows_since_tests_passed(relation)) -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
{%- endmacro %}

{% macro rows_since_tests_passed(relation) -%}
    dbt_refreshed_at > coalesce(
        (select max(passed_through) from {{ tests_passed_relation() }} where model_name = '{{ relation.identifier }}'),
        cast('1900-01-01' as timestamp))
{%- endmacro %}

{# on-run-end: for each model whose scoped tests all ran and passed in this run, its newest row #}
{% macro record_tests_passed(results) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set passed = [] -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass' -%}
        {%- do passed.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- set scoped = {} -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'test' and '__rows_since_tests_passed__' in (node.config.where or '') -%}
        {%- do scoped.setdefault(node.attached_node, []).append(node.unique_id) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for model_id, test_ids in scoped.items() if test_ids | reject('in', passed) | list | length == 0 -%}
        {%- set model = graph.nodes[model_id] -%}
        {%- set relation = api.Relation.create(database=model.database, schema=model.schema, identifier=model.alias) -%}
        {%- do statements.append(
            "insert into " ~ tests_passed_relation() ~ " (model_name, passed_through) "
            ~ "select '" ~ model.alias ~ "', max(dbt_refreshed_at) from " ~ relation
            ~ " having max(dbt_refreshed_at) is not null "
            ~ "on conflict (model_name) do update set passed_through = excluded.passed_through") -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
