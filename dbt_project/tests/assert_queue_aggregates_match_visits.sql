{{ config(meta={'dagster': {'ref': {'name': 'agg_queue_daily'}}}) }}
-- Nothing lost, nothing doubled: every visit of fct_queue_visits is counted exactly once in
-- agg_queue_daily and once in agg_queue_interval, per platform, queue and local day.
with

visits as (

    select platform, queue, entered_date as day, count(*) as offered
    from {{ ref('fct_queue_visits') }}
    group by platform, queue, entered_date

),

daily as (

    select platform, queue, day, sum(offered) as offered
    from {{ ref('agg_queue_daily') }}
    group by platform, queue, day

),

intervals as (

    select platform, queue, day, sum(offered) as offered
    from {{ ref('agg_queue_interval') }}
    group by platform, queue, day

)

select
    coalesce(visits.platform, daily.platform, intervals.platform) as platform,
    coalesce(visits.queue, daily.queue, intervals.queue) as queue,
    coalesce(visits.day, daily.day, intervals.day) as day,
    visits.offered as visits,
    daily.offered as daily_offered,
    intervals.offered as interval_offered
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
    or visits.offered <> daily.offered
    or visits.offered <> intervals.offered
