{{ config(meta={
    'description': "Paused time per agent and local day is the same in agg_agent_pause_daily (summed over reasons) as in agg_agent_daily.",
    'dagster': {'ref': {'name': 'agg_agent_daily'}}}) }}
-- Paused time per agent and local day is the same in agg_agent_pause_daily (summed over
-- reasons) and in agg_agent_daily: both come from the same agent-level pause union.
with

by_reason as (

    select platform, agent_key, day, sum(paused_seconds) as paused_seconds
    from {{ ref('agg_agent_pause_daily') }}
    group by platform, agent_key, day

),

daily as (

    select platform, agent_key, day, paused_seconds
    from {{ ref('agg_agent_daily') }}
    where paused_seconds > 0

)

select
    coalesce(by_reason.agent_key, daily.agent_key) as agent_key,
    coalesce(by_reason.day, daily.day) as day,
    by_reason.paused_seconds as by_reason_seconds,
    daily.paused_seconds as daily_seconds
from by_reason
full outer join daily
    on by_reason.platform = daily.platform
    and by_reason.agent_key = daily.agent_key
    and by_reason.day = daily.day
where coalesce(by_reason.paused_seconds, 0) <> coalesce(daily.paused_seconds, 0)
