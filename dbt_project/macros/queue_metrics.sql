{#
  The queue metric set, shared by agg_queue_daily and agg_queue_interval so both grains use
  one definition (see the `queue_metric_definitions` docs block). Expects the columns of
  fct_queue_visits; the caller supplies the grouping.
#}
{% macro queue_metric_columns() -%}
        count(*) as offered,
        count(case when outcome = 'answered' then 1 end) as answered,
        count(case when outcome = 'abandoned' then 1 end) as abandoned,
        count(case when is_short_abandon then 1 end) as short_abandons,
        count(case when outcome = 'timeout' then 1 end) as timeouts,
        count(case when outcome = 'exit_key' then 1 end) as exit_key,
        count(case when outcome = 'exit_empty' then 1 end) as exit_empty,
        count(case when outcome = 'join_empty' then 1 end) as join_empty,
        count(case when outcome = 'other' then 1 end) as other,
        count(case when outcome in ('exit_key', 'exit_empty', 'join_empty', 'other') then 1 end)
            as other_unanswered,
        count(case when outcome = 'open' then 1 end) as open_visits,
        count(case when outcome = 'answered' and wait_seconds <= {{ var('sl_seconds') }} then 1 end)
            as answered_within_sl,
        cast(avg(case when outcome = 'answered' then wait_seconds end) as double precision) as asa_seconds,
        cast(avg(wait_seconds) as double precision) as avg_wait_seconds,
        max(wait_seconds) as max_wait_seconds,
        cast(avg(case when outcome = 'answered' then talk_seconds end) as double precision) as avg_talk_seconds,
        cast(
            avg(case when outcome = 'answered' and talk_seconds is not null
                then talk_seconds + coalesce(wrapup_seconds, 0) end)
            as double precision
        ) as aht_seconds,
        count(case when transferred then 1 end) as transfers
{%- endmacro %}

{# Ratios computed from the counts above (column names as produced by queue_metric_columns). #}
{% macro queue_metric_ratios() -%}
        case
            when offered - short_abandons > 0
                then {{ ratio('answered_within_sl', 'offered - short_abandons') }}
        end as service_level,
        case
            when offered - short_abandons > 0
                then {{ ratio('abandoned - short_abandons', 'offered - short_abandons') }}
        end as abandon_rate
{%- endmacro %}
