{#
  Agent-level logged-in time: the union of an agent's sessions across queues, session types
  and PBXs (agent = case-insensitive name, agent_key). An agent who is a member of three
  queues for the same hour was logged in for one hour.
#}

with

sessions as (

    select * from {{ ref('int_asterisk__agent_sessions') }}

),

islands as (

    {{ interval_islands('sessions', 'agent_key', 'started_epoch', 'ended_epoch', 'session_id') }}

),

spans as (

    select
        agent_key,
        island_no as span_no,
        min(started_epoch) as started_epoch,
        max(ended_epoch) as ended_epoch,
        count(*) as session_count
    from islands
    group by agent_key, island_no

),

final as (

    select
        {{ hash_key(['agent_key', 'span_no']) }} as span_id,
        agent_key,
        span_no,
        started_epoch,
        {{ epoch_to_timestamptz('started_epoch') }} as started_at,
        ended_epoch,
        {{ epoch_to_timestamptz('ended_epoch') }} as ended_at,
        ended_epoch - started_epoch as logged_in_seconds,
        session_count
    from spans

)

select * from final
