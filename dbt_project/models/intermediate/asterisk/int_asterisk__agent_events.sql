{#
  Agent-state lines (membership, login, pause) with the agent resolved to a member name:
  interfaces (SIP/1001, ...) go through int_asterisk__member_names as of the event; names
  (and interfaces without any mapping) are kept as logged. agent_key is the case-insensitive
  identity used to union an agent's intervals.

  AGENTLOGIN / AGENTLOGOFF of app_agent_pool (Asterisk 12+) name the agent by its bare id (`1001`)
  while the queues it serves log it as their member `Agent/1001` (chan_agent, up to 11, logged
  `Agent/1001` everywhere; asterisk-queue-log.md §2, §4.4). A login id is read as the interface
  `Agent/<id>` when a line of the same boot (a call, a pause, a membership) names that member, so
  that its login time and its calls are one agent; without such a line it stays as logged.

  Incremental: per PBX, the boots from the first one with new or re-sequenced lines, or with an
  event whose member-name mapping changed, are rebuilt (macros/asterisk_agent_refresh.sql).
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ agent_events_pre_hook() }}",
    post_hook="{{ agent_events_post_hook() }}",
) }}

-- depends_on: {{ ref('int_asterisk__boots') }} (refresh plan)
-- depends_on: {{ ref('stg_asterisk__queue_events') }} (refresh plan: every staged line)

{% set incremental = incremental_ready() %}

with

{{ rebuilt_boots_cte(incremental) }}

-- the app_agent_pool members (Agent/<id>) each boot's lines name
pool_members as (

    select distinct events.pbx, events.boot_no, lower(events.agent) as member_key
    from {{ ref('int_asterisk__queue_events') }} as events
    {{ in_rebuilt_boots('events', incremental) }}
    where lower(events.agent) like 'agent/%'

),

events as (

    select
        events.*,
        case
            when pool_members.member_key is not null then 'Agent/' || events.agent
            else events.agent
        end as member_agent
    from {{ ref('int_asterisk__queue_events') }} as events
    {{ in_rebuilt_boots('events', incremental) }}
    left join pool_members
        on events.event in ('AGENTLOGIN', 'AGENTLOGOFF')
        and pool_members.pbx = events.pbx
        and pool_members.boot_no = events.boot_no
        and pool_members.member_key = 'agent/' || lower(events.agent)
    where events.event in {{ asterisk_agent_state_events() }}
        and events.agent is not null

),

member_names as (

    select * from {{ ref('int_asterisk__member_names') }}

),

resolved as (

    select
        events.event_id,
        events.pbx,
        events.boot_no,
        events.event_seq,
        events.event_epoch,
        events.event_at,
        events.callid,
        events.queue,
        events.event,
        events.agent as logged_agent,
        coalesce(member_names.member_name, events.member_agent) as agent,
        {{ agent_key('coalesce(member_names.member_name, events.member_agent)') }} as agent_key,
        member_names.mapping_id,
        events.data1,
        events.data2,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from events
    left join member_names
        on events.pbx = member_names.pbx
        and events.member_agent = member_names.interface
        and events.event_seq >= member_names.lookup_from_seq
        and (member_names.valid_to_seq is null or events.event_seq < member_names.valid_to_seq)

)

select * from resolved
