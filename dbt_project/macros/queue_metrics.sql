{#
  The queue metric set, shared by agg_queue_daily and agg_queue_interval so both grains use
  one definition (see the `queue_metric_definitions` docs block). Expects the columns of
  fct_queue_visits; the caller supplies the grouping.
#}
{% macro queue_metric_columns() -%}
        count(*) as offered,
        sum(case when outcome = 'answered' then 1 else 0 end) as answered,
        sum(case when outcome = 'abandoned' then 1 else 0 end) as abandoned,
        sum(case when is_short_abandon then 1 else 0 end) as short_abandons,
        sum(case when outcome = 'timeout' then 1 else 0 end) as timeouts,
        sum(case when outcome = 'exit_key' then 1 else 0 end) as exit_key,
        sum(case when outcome = 'exit_empty' then 1 else 0 end) as exit_empty,
        sum(case when outcome = 'join_empty' then 1 else 0 end) as join_empty,
        sum(case when outcome = 'other' then 1 else 0 end) as other,
        sum(case when outcome in ('exit_key', 'exit_empty', 'join_empty', 'other') then 1 else 0 end)
            as other_unanswered,
        sum(case when outcome = 'open' then 1 else 0 end) as open_visits,
        sum(case when outcome = 'answered' and wait_seconds <= {{ var('sl_seconds') }} then 1 else 0 end)
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
        sum(case when transferred then 1 else 0 end) as transfers
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
