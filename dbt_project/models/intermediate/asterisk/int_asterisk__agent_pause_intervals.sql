{#
  Every PAUSE / PAUSEALL line with the line that ended it, as logged (before any union):
    * PAUSE (one queue) ends at the next UNPAUSE / PAUSE / REMOVEMEMBER of the same agent and
      queue, or at the agent's next UNPAUSEALL / AGENTLOGOFF;
    * PAUSEALL ends at the agent's next UNPAUSEALL / PAUSEALL / AGENTLOGOFF, or at the
      REMOVEMEMBER that takes the agent out of its last queue (paused in all queues, the agent
      stays paused in those it is still a member of);
    * otherwise at the PBX's next QUEUESTART (restart) or the end of that PBX's data.
  A PAUSE with a new reason while paused closes the previous pause (reason change).
  An ADDMEMBER logged with data1 = PAUSED (member added paused) starts a pause in that queue.
  reason = data1 of the PAUSE/PAUSEALL line (null for a member added paused); a PAUSEALL without
  one (Asterisk before 16 logs it empty) takes its cascade's. A PAUSEALL is followed by one PAUSE per queue
  (cascade): int_asterisk__agent_pauses unions these rows so that time is counted once.

  Incremental: a pause lies within one boot, so a run rebuilds, per PBX, the boots from the first
  one whose lines or agent events were rewritten (macros/asterisk_agent_refresh.sql): an open
  one ends at the PBX's last line, which any new line moves.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='pause_interval_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ agent_boot_plan_pre_hook() }}",
) }}

-- depends_on: {{ ref('stg_asterisk__queue_events') }} (refresh plan: every staged line)

{% set incremental = incremental_ready() %}

with

{{ rebuilt_boots_cte(incremental) }}

agent_events as (

    select agent_events.*
    from {{ ref('int_asterisk__agent_events') }} as agent_events
    {{ in_rebuilt_boots('agent_events', incremental) }}

),

boots as (

    select * from {{ ref('int_asterisk__boots') }}

),

-- how many queues the agent is a member of after each ADDMEMBER / REMOVEMEMBER (a repeated
-- ADDMEMBER continues the membership; a REMOVEMEMBER of a membership the data does not show
-- starting counts as leaving nothing)
memberships as (

    select
        pbx,
        event_seq,
        sum(
            case
                when event = 'ADDMEMBER' and coalesce(previous_event, 'REMOVEMEMBER') = 'REMOVEMEMBER' then 1
                when event = 'REMOVEMEMBER' and previous_event = 'ADDMEMBER' then -1
                else 0
            end
        ) over (
            partition by pbx, boot_no, agent_key
            order by event_seq
            rows between unbounded preceding and current row
        ) as queues_joined
    from (
        select
            agent_events.*,
            lag(event) over (partition by pbx, boot_no, agent_key, queue order by event_seq) as previous_event
        from agent_events
        where event in ('ADDMEMBER', 'REMOVEMEMBER') and queue is not null
    ) as changes

),

closers as (

    select
        agent_events.*,
        min(
            case when agent_events.event in ('AGENTLOGOFF', 'AGENTCALLBACKLOGOFF', 'UNPAUSEALL') then agent_events.event_seq end
        ) over agent_order as next_agent_wide_seq,
        min(
            case
                when agent_events.event = 'PAUSEALL'
                    or (agent_events.event = 'REMOVEMEMBER' and memberships.queues_joined <= 0)
                    then agent_events.event_seq
            end
        ) over agent_order as next_pauseall_closer_seq,
        min(
            case when agent_events.event in ('PAUSE', 'UNPAUSE', 'REMOVEMEMBER') then agent_events.event_seq end
        ) over (
            partition by agent_events.pbx, agent_events.boot_no, agent_events.agent_key, agent_events.queue
            order by agent_events.event_seq
            rows between 1 following and unbounded following
        ) as next_queue_closer_seq
    from agent_events
    left join memberships
        on agent_events.pbx = memberships.pbx
        and agent_events.event_seq = memberships.event_seq
    window agent_order as (
        partition by agent_events.pbx, agent_events.boot_no, agent_events.agent_key
        order by agent_events.event_seq
        rows between 1 following and unbounded following
    )

),

starts as (

    select
        closers.*,
        case
            when event = 'PAUSEALL' then least(
                coalesce(next_agent_wide_seq, next_pauseall_closer_seq),
                coalesce(next_pauseall_closer_seq, next_agent_wide_seq)
            )
            else least(
                coalesce(next_agent_wide_seq, next_queue_closer_seq),
                coalesce(next_queue_closer_seq, next_agent_wide_seq)
            )
        end as end_seq
    from closers
    where event in ('PAUSE', 'PAUSEALL')
        or (event = 'ADDMEMBER' and upper(data1) = 'PAUSED')

),

-- Before Asterisk 16 a PAUSEALL logs no reason and the PAUSE lines of its cascade carry it
-- (asterisk-queue-log.md §2): such a PAUSEALL takes the reason of its cascade's first PAUSE that
-- gives one, written in the same second before the PAUSEALL ends (few PAUSEALLs: a small join)
cascade_reasons as (

    select event_id, reason
    from (
        select
            pauseall.event_id,
            cascade.data1 as reason,
            row_number() over (partition by pauseall.event_id order by cascade.event_seq) as cascade_rank
        from starts as pauseall
        inner join starts as cascade
            on cascade.pbx = pauseall.pbx
            and cascade.boot_no = pauseall.boot_no
            and cascade.agent_key = pauseall.agent_key
            and cascade.event_epoch = pauseall.event_epoch
            and cascade.event_seq > pauseall.event_seq
            and (pauseall.end_seq is null or cascade.event_seq < pauseall.end_seq)
        where pauseall.event = 'PAUSEALL'
            and pauseall.data1 is null
            and cascade.event = 'PAUSE'
            and cascade.data1 is not null
    ) as ranked
    where cascade_rank = 1

),

ended as (

    select
        starts.event_id,
        starts.pbx,
        starts.boot_no,
        starts.event as pause_event,
        starts.queue,
        starts.logged_agent,
        starts.agent,
        starts.agent_key,
        case when starts.event = 'ADDMEMBER' then null else coalesce(starts.data1, cascade_reasons.reason) end as reason,
        starts.event_seq as start_seq,
        starts.event_epoch as start_epoch,
        end_events.event_epoch as end_event_epoch,
        lower(end_events.event) as end_event
    from starts
    left join agent_events as end_events
        on starts.pbx = end_events.pbx
        and starts.end_seq = end_events.event_seq
    left join cascade_reasons
        on starts.event_id = cascade_reasons.event_id

),

closed as (

    select
        ended.*,
        coalesce(ended.end_event_epoch, boots.restarted_epoch, boots.data_end_epoch) as end_epoch,
        coalesce(
            ended.end_event,
            case when boots.restarted_epoch is not null then 'restart' else 'data_end' end
        ) as end_reason
    from ended
    inner join boots
        on ended.pbx = boots.pbx
        and ended.boot_no = boots.boot_no

),

final as (

    select
        event_id as pause_interval_id,
        pbx,
        boot_no,
        case when pause_event = 'PAUSEALL' then 'all_queues' else 'queue' end as pause_scope,
        queue,
        logged_agent,
        agent,
        agent_key,
        reason,
        start_seq,
        start_epoch as started_epoch,
        {{ epoch_to_timestamptz('start_epoch') }} as started_at,
        end_epoch as ended_epoch,
        {{ epoch_to_timestamptz('end_epoch') }} as ended_at,
        end_reason,
        end_epoch - start_epoch as duration_seconds,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from closed

)

select * from final
