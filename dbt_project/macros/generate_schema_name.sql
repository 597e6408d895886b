{#
  Schemas are exactly staging / intermediate / marts (DESIGN.md "Stable names") in DuckDB and
  Postgres alike, instead of dbt's default <target_schema>_<custom_schema> concatenation.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
