{#
  Queue visits of every platform under one set of definitions (queue_metric_definitions):
  Asterisk / Issabel queue_log visits and Webex Calling queue visits (int_webex__queue_visits).

  Incremental:
  * Asterisk rows - rebuilds, per PBX, the boots whose visits were rebuilt since this table's
    newest row (macros/asterisk_refresh.sql: boot_plan_sql), plus every visit of an agent whose
    identity or display name changed (a new spelling, an agent directory edit), so `agent` and
    `agent_key` stay the same across the whole table.
  * Webex rows - rewritten in full on every run (journeys are rebuilt in full upstream: a late
    record can join two journeys). Webex rows have no PBX and no boot, so the boot plan never
    touches them.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='visit_id',
    on_schema_change='append_new_columns',
    meta={'rows_depend_on_vars': ['reporting_timezone', 'short_abandon_seconds']},
    pre_hook=[
        "{{ boot_plan_pre_hook(ref('int_asterisk__queue_visits'), with_event=false) }}",
        "{{ platform_replace_pre_hook('webex') }}",
    ],
) }}

{% set incremental = incremental_ready() %}

with

identities as (

    select platform_agent_key, agent_key, agent
    from {{ ref('int_agents') }}
    where platform = 'asterisk'

),

{% if incremental %}
plan as (

    select pbx, first_boot from {{ plan_relation('fct_queue_visits__plan') }}

),

-- member names now shown with another identity or name (older visits keep the old ones)
renamed_agents as (

    select identities.platform_agent_key
    from identities
    inner join (
        select distinct {{ agent_key('agent_as_logged') }} as platform_agent_key, agent_key, agent
        from {{ this }}
        where platform = 'asterisk' and agent_as_logged is not null
    ) as shown
        on identities.platform_agent_key = shown.platform_agent_key
    where shown.agent <> identities.agent or shown.agent_key <> identities.agent_key

),
{% endif %}

visits as (

    select visits.*
    from {{ ref('int_asterisk__queue_visits') }} as visits
    {% if incremental -%}
    where exists (
            select 1 from plan
            where plan.pbx = visits.pbx and visits.boot_no >= plan.first_boot
        )
        or visits.agent_key in (select platform_agent_key from renamed_agents)
    {%- endif %}

),

asterisk_visits as (

    select
        visits.visit_id,
        'asterisk' as platform,
        pbx,
        boot_no,
        callid as call_id,
        queue,
        entered_at,
        connected_at,
        ended_at,
        caller_number,
        did,
        outcome,
        is_short_abandon,
        -- one name per agent across marts (directory name, else latest spelling); the line's own spelling is kept too
        coalesce(identities.agent, visits.agent) as agent,
        visits.agent as agent_as_logged,
        coalesce(identities.agent_key, visits.agent_key) as agent_key,
        -- seconds as double precision on every platform (Webex measures milliseconds)
        cast(wait_seconds as double precision) as wait_seconds,
        cast(talk_seconds as double precision) as talk_seconds,
        wrapup_seconds,
        ring_attempts,
        ring_no_answer_count,
        transferred,
        position_at_entry,
        is_orphan as is_entry_reconstructed,
        is_refused_at_join,
        is_closed_by_restart,
        is_exit_missing,
        terminal_event,
        cast({{ epoch_to_local_timestamp('entered_epoch') }} as date) as entered_date,
        {{ quarter_hour_start(epoch_to_local_timestamp('entered_epoch')) }} as entered_interval_start,
        {{ run_started_at_literal() }} as dbt_refreshed_at,
        cast(null as {{ dbt.type_bigint() }}) as hold_seconds
    from visits
    left join identities
        on visits.agent_key = identities.platform_agent_key

),

webex_identities as (

    select platform_agent_key, agent_key, agent
    from {{ ref('int_agents') }}
    where platform = 'webex'

),

webex_visits as (

    select
        webex.visit_id,
        'webex' as platform,
        cast(null as {{ dbt.type_string() }}) as pbx,
        cast(null as {{ dbt.type_bigint() }}) as boot_no,
        webex.journey_id as call_id,
        webex.queue,
        webex.entered_at,
        webex.connected_at,
        webex.ended_at,
        webex.caller_number,
        webex.did,
        webex.outcome,
        (webex.outcome = 'abandoned' and webex.wait_seconds <= {{ var('short_abandon_seconds') }}) as is_short_abandon,
        case when webex.agent_user_uuid is not null then coalesce(webex_identities.agent, webex.agent_user_name) end as agent,
        webex.agent_user_name as agent_as_logged,
        case when webex.agent_user_uuid is not null then coalesce(webex_identities.agent_key, lower(webex.agent_user_uuid)) end as agent_key,
        webex.wait_seconds,
        webex.talk_seconds,
        cast(null as {{ dbt.type_bigint() }}) as wrapup_seconds,
        webex.ring_attempts,
        webex.ring_no_answer_count,
        webex.transferred,
        cast(null as {{ dbt.type_bigint() }}) as position_at_entry,
        false as is_entry_reconstructed,
        false as is_refused_at_join,
        false as is_closed_by_restart,
        false as is_exit_missing,
        cast(null as {{ dbt.type_string() }}) as terminal_event,
        cast({{ to_local_timestamp('webex.entered_at') }} as date) as entered_date,
        {{ quarter_hour_start(to_local_timestamp('webex.entered_at')) }} as entered_interval_start,
        {{ run_started_at_literal() }} as dbt_refreshed_at,
        webex.hold_seconds
    from {{ ref('int_webex__queue_visits') }} as webex
    left join webex_identities
        on lower(webex.agent_user_uuid) = webex_identities.platform_agent_key

)

select * from asterisk_visits
union all
select * from webex_visits
