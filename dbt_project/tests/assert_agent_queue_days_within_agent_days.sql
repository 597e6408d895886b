{{ config(meta={
    'description': "No queue membership of an agent lasts longer on a day than the agent's logged-in time in agg_agent_daily, and every agent-day of agg_agent_queue_daily is in agg_agent_daily.",
    'dagster': {'ref': {'name': 'agg_agent_daily'}}}) }}
-- A membership of one queue is part of the agent's logged-in time: per agent and local day,
-- no queue's member_seconds exceeds agg_agent_daily's logged_in_seconds (the union across
-- queues and login types), and every agent-day of agg_agent_queue_daily is in agg_agent_daily.
select
    queue_days.platform,
    queue_days.queue,
    queue_days.agent_key,
    queue_days.day,
    queue_days.member_seconds,
    agent_days.logged_in_seconds
from {{ ref('agg_agent_queue_daily') }} as queue_days
left join {{ ref('agg_agent_daily') }} as agent_days
    on queue_days.platform = agent_days.platform
    and queue_days.agent_key = agent_days.agent_key
    and queue_days.day = agent_days.day
where agent_days.agent_key is null
    or coalesce(queue_days.member_seconds, 0) > coalesce(agent_days.logged_in_seconds, 0)
