{#
  One row per number text as staging writes it (trimmed, as stg_asterisk__cdr and
  stg_asterisk__queue_events trim their fields), with its E.164 form, country and type. Texts
  that differ only in surrounding spaces are classified alike (phonenumbers ignores them).
  A table, not the staging default view: the grouping of millions of texts would otherwise run
  again for each of its tests and for each of fct_calls' two joins.
#}
{{ config(materialized='table') }}

select
    {{ trim_spaces('number') }} as number_text,
    max(e164) as e164,
    max(country) as country,
    max(number_type) as number_type
from {{ source('raw_asterisk', 'phone_numbers') }}
where {{ trim_spaces('number') }} <> ''
group by {{ trim_spaces('number') }}
