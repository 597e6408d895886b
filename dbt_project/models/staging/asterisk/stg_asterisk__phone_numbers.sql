{#
  One row per number text as staging writes it (trimmed, as stg_asterisk__cdr and
  stg_asterisk__queue_events trim their fields), with its E.164 form, country and type. Texts
  that differ only in surrounding spaces are classified alike (phonenumbers ignores them).
  A table, not the staging default view: the grouping of millions of texts would otherwise run
  again for each of its tests and for each of fct_calls' two joins.

  Incremental: a text's classification never changes once made (the loader classifies each raw
  text once), so a run adds only the texts this table lacks, found by an anti-join rather than
  by a load time (a load committed while an earlier run read cannot slip past it).
  Rebuilding all of it took ~2 s a run with 2M texts.
#}
{#- delete+insert, not append: a table built before this model was incremental (no
    dbt_refreshed_at) is rebuilt in full once, and its rows must be replaced, not added again -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='number_text',
    on_schema_change='append_new_columns',
) }}

{% set incremental = incremental_ready() %}

with

numbers as (

    select
        {{ trim_spaces('number') }} as number_text,
        e164,
        country,
        number_type
    from {{ source('raw_asterisk', 'phone_numbers') }}

)

select
    numbers.number_text,
    max(numbers.e164) as e164,
    max(numbers.country) as country,
    max(numbers.number_type) as number_type,
    {{ run_started_at_literal() }} as dbt_refreshed_at
from numbers
{% if incremental -%}
left join {{ this }} as known
    on numbers.number_text = known.number_text
{%- endif %}
where numbers.number_text <> ''
{%- if incremental %}
    and known.number_text is null
{%- endif %}
group by numbers.number_text
