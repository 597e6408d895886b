{{ config(meta={
    'description': "Nothing lost, doubled or moved between outcomes: every visit of fct_queue_visits is counted once in agg_queue_daily and once in agg_queue_interval, under its outcome, per platform, queue and local day.",
    'dagster': {'ref': {'name': 'agg_queue_daily'}}}) }}
-- Nothing lost, nothing doubled, nothing moved between outcomes: every visit of fct_queue_visits
-- is counted exactly once in agg_queue_daily and once in agg_queue_interval, under its outcome,
-- per platform, queue and local day. (offered = the sum of the outcome counts is tested on each
-- aggregate; this ties each count to the visits.)
{% set counts = ['offered', 'answered', 'abandoned', 'short_abandons', 'timeouts', 'other_unanswered', 'open_visits', 'transfers'] %}
with

visits as (

    -- the aggregates' own counts (macros/queue_metrics.sql), per local day of the visits
    select platform, queue, entered_date as day, {{ queue_metric_columns() }}
    from {{ ref('fct_queue_visits') }}
    group by platform, queue, entered_date

),

daily as (

    select platform, queue, day, {% for c in counts %}sum({{ c }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %}
    from {{ ref('agg_queue_daily') }}
    group by platform, queue, day

),

intervals as (

    select platform, queue, day, {% for c in counts %}sum({{ c }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %}
    from {{ ref('agg_queue_interval') }}
    group by platform, queue, day

)

select
    coalesce(visits.platform, daily.platform, intervals.platform) as platform,
    coalesce(visits.queue, daily.queue, intervals.queue) as queue,
    coalesce(visits.day, daily.day, intervals.day) as day,
    {% for c in counts -%}
    visits.{{ c }} as visits_{{ c }},
    daily.{{ c }} as daily_{{ c }},
    intervals.{{ c }} as interval_{{ c }}{{ "," if not loop.last }}
    {% endfor %}
from visits
full outer join daily
    on visits.platform = daily.platform
    and visits.queue = daily.queue
    and visits.day = daily.day
full outer join intervals
    on coalesce(visits.platform, daily.platform) = intervals.platform
    and coalesce(visits.queue, daily.queue) = intervals.queue
    and coalesce(visits.day, daily.day) = intervals.day
where visits.offered is null
    or daily.offered is null
    or intervals.offered is null
    {% for c in counts -%}
    or visits.{{ c }} <> daily.{{ c }}
    or visits.{{ c }} <> intervals.{{ c }}
    {% endfor %}
