{#
  Incremental: rebuilds, per PBX, the boots whose visits were rebuilt since this table's newest
  row (macros/asterisk_refresh.sql: boot_plan_sql), plus every visit of an agent whose display
  name (latest spelling) changed, so `agent` stays the same across the whole table.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='visit_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ boot_plan_pre_hook(ref('int_asterisk__queue_visits'), with_event=false) }}",
) }}

{% set incremental = incremental_ready() %}

with

{% if incremental %}
plan as (

    select pbx, first_boot from {{ plan_relation('fct_queue_visits__plan') }}

),

-- agents shown under another name than their latest spelling (older visits keep the old name)
renamed_agents as (

    select agents.agent_key
    from {{ ref('int_asterisk__agents') }} as agents
    inner join (
        select distinct agent_key, agent from {{ this }} where agent_key is not null
    ) as shown
        on agents.agent_key = shown.agent_key
    where shown.agent <> agents.agent

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
        or visits.agent_key in (select agent_key from renamed_agents)
    {%- endif %}

),

agents as (

    select * from {{ ref('int_asterisk__agents') }}

),

final as (

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
        -- one name per agent across marts (latest spelling); the line's own spelling is kept too
        coalesce(agents.agent, visits.agent) as agent,
        visits.agent as agent_as_logged,
        visits.agent_key,
        wait_seconds,
        talk_seconds,
        wrapup_seconds,
        ring_attempts,
        ring_no_answer_count,
        transferred,
        position_at_entry,
        is_orphan as is_entry_reconstructed,
        is_refused_at_join,
        is_closed_by_restart,
        terminal_event,
        cast({{ epoch_to_local_timestamp('entered_epoch') }} as date) as entered_date,
        {{ quarter_hour_start(epoch_to_local_timestamp('entered_epoch')) }} as entered_interval_start,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from visits
    left join agents
        on visits.agent_key = agents.agent_key

)

select * from final
