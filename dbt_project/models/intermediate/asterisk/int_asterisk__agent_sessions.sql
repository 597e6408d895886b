{#
  Logged-in intervals, one row per session, as the PBX logged them:
    * queue_membership: ADDMEMBER -> next REMOVEMEMBER of the same interface and queue; a
      REMOVEMEMBER without its ADDMEMBER (a member the data shows joining nowhere: restored by
      persistentmembers at start, or added before the data starts) is no session - REMOVEMEMBER
      carries no duration to rebuild its start from, unlike AGENTLOGOFF;
    * agent_login: AGENTLOGIN/AGENTCALLBACKLOGIN -> next AGENTLOGOFF/AGENTCALLBACKLOGOFF of the
      same agent; a logoff without its login (before the data starts) is rebuilt from its
      logged duration (data2), as Wazo does, but no earlier than its boot's QUEUESTART.
  A repeated start without an end in between continues the open session. A session still open
  is closed at the PBX's next QUEUESTART (restart) or, in the last boot, at the end of that
  PBX's data. Agent-level logged-in time is the union of these rows
  (int_asterisk__agent_login_spans), not their sum.

  Incremental: a session lies within one boot, so a run rebuilds, per PBX, the boots from the first
  one whose lines or agent events were rewritten (macros/asterisk_agent_refresh.sql): an open
  one ends at the PBX's last line, which any new line moves.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='session_id',
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

membership as (

    select
        agent_events.*,
        lag(event) over (
            partition by pbx, boot_no, logged_agent, queue
            order by event_seq
        ) as previous_event,
        min(case when event = 'REMOVEMEMBER' then event_seq end) over (
            partition by pbx, boot_no, logged_agent, queue
            order by event_seq
            rows between 1 following and unbounded following
        ) as end_seq,
        min(case when event = 'REMOVEMEMBER' then event_epoch end) over (
            partition by pbx, boot_no, logged_agent, queue
            order by event_seq
            rows between 1 following and unbounded following
        ) as end_epoch
    from agent_events
    where event in ('ADDMEMBER', 'REMOVEMEMBER')
        and queue is not null

),

membership_sessions as (

    select
        event_id as start_event_id,
        pbx,
        boot_no,
        'queue_membership' as session_type,
        queue,
        logged_agent as interface,
        agent,
        agent_key,
        event_epoch as start_epoch,
        end_epoch,
        case when end_epoch is not null then 'removemember' end as logged_end_reason
    from membership
    where event = 'ADDMEMBER'
        and (previous_event is null or previous_event <> 'ADDMEMBER')

),

logins as (

    select
        agent_events.*,
        event in ('AGENTLOGIN', 'AGENTCALLBACKLOGIN') as is_login,
        lag(case when event in ('AGENTLOGIN', 'AGENTCALLBACKLOGIN') then 1 else 0 end) over (
            partition by pbx, boot_no, logged_agent
            order by event_seq
        ) as previous_is_login,
        min(case when event in ('AGENTLOGOFF', 'AGENTCALLBACKLOGOFF') then event_epoch end) over (
            partition by pbx, boot_no, logged_agent
            order by event_seq
            rows between 1 following and unbounded following
        ) as end_epoch
    from agent_events
    where event in ('AGENTLOGIN', 'AGENTLOGOFF', 'AGENTCALLBACKLOGIN', 'AGENTCALLBACKLOGOFF')

),

login_sessions as (

    select
        event_id as start_event_id,
        pbx,
        boot_no,
        'agent_login' as session_type,
        cast(null as {{ dbt.type_string() }}) as queue,
        logged_agent as interface,
        agent,
        agent_key,
        event_epoch as start_epoch,
        end_epoch,
        case when end_epoch is not null then 'agentlogoff' end as logged_end_reason
    from logins
    where is_login
        and coalesce(previous_is_login, 0) = 0

    union all

    -- logoff whose login is not in the data: start = logoff - logged duration
    select
        event_id as start_event_id,
        pbx,
        boot_no,
        'agent_login' as session_type,
        cast(null as {{ dbt.type_string() }}) as queue,
        logged_agent as interface,
        agent,
        agent_key,
        event_epoch - {{ safe_to_count('data2') }} as start_epoch,
        event_epoch as end_epoch,
        'agentlogoff' as logged_end_reason
    from logins
    where not is_login
        and coalesce(previous_is_login, 0) = 0
        and {{ safe_to_count('data2') }} > 0

),

sessions as (

    select * from membership_sessions
    union all
    select * from login_sessions

),

closed as (

    select
        sessions.*,
        -- a logoff rebuilt from its logged duration cannot start before its boot's QUEUESTART:
        -- a restart logs every agent off, so a longer duration was counted across it
        case
            when boots.started_epoch is not null
                then greatest(sessions.start_epoch, boots.started_epoch)
            else sessions.start_epoch
        end as opened_epoch,
        coalesce(sessions.end_epoch, boots.restarted_epoch, boots.data_end_epoch) as closed_epoch,
        coalesce(
            sessions.logged_end_reason,
            case when boots.restarted_epoch is not null then 'restart' else 'data_end' end
        ) as end_reason
    from sessions
    inner join boots
        on sessions.pbx = boots.pbx
        and sessions.boot_no = boots.boot_no

),

final as (

    select
        {{ hash_key(['start_event_id', 'session_type']) }} as session_id,
        pbx,
        boot_no,
        session_type,
        queue,
        interface,
        agent,
        agent_key,
        opened_epoch as started_epoch,
        {{ epoch_to_timestamptz('opened_epoch') }} as started_at,
        closed_epoch as ended_epoch,
        {{ epoch_to_timestamptz('closed_epoch') }} as ended_at,
        end_reason,
        closed_epoch - opened_epoch as duration_seconds,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from closed

)

select * from final
