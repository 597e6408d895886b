{#
  One row per RINGNOANSWER inside a queue visit (between its first event and its first
  terminal event): the member that was rung and did not answer. data1 is the ring time in
  milliseconds; '0' and '1000' come from busy/unavailable members on ring-all queues, not from
  real ringing, and are flagged is_noise (NethVoice Report deletes them).

  Incremental like int_asterisk__queue_visits: a ring depends only on the events and visits of
  its boot, so a run rebuilds, per PBX, the boots from the first one with new or re-sequenced
  lines on (the same plan as the visits, macros/asterisk_refresh.sql: boot_plan_sql).
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='ring_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ boot_plan_pre_hook(staged_lines()) }}",
) }}

-- depends_on: {{ ref('stg_asterisk__queue_events') }} (refresh plan: every staged line)

{% set incremental = incremental_ready() %}

with

{{ rebuilt_boots_cte(incremental) }}

rings as (

    select rings.*
    from {{ ref('int_asterisk__queue_events') }} as rings
    {{ in_rebuilt_boots('rings', incremental) }}
    where rings.event = 'RINGNOANSWER'
        and rings.queue is not null

),

visits as (

    select visits.*
    from {{ ref('int_asterisk__queue_visits') }} as visits
    {{ in_rebuilt_boots('visits', incremental) }}

),

joined as (

    select
        rings.event_id as ring_id,
        visits.visit_id,
        rings.pbx,
        rings.boot_no,
        rings.queue,
        coalesce(rings.callid, '') as callid,  -- (no call id: keyed as its visit is)
        rings.agent,
        {{ agent_key('rings.agent') }} as agent_key,
        rings.event_epoch as rang_epoch,
        rings.event_at as rang_at,
        {{ safe_to_count('rings.data1') }} as ring_ms,
        coalesce(rings.data1, '') in ('0', '1000') as is_noise,
        visits.entered_epoch as visit_entered_epoch,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from rings
    inner join visits
        on rings.pbx = visits.pbx
        and rings.boot_no = visits.boot_no
        and coalesce(rings.callid, '') = visits.callid
        and rings.queue = visits.queue
        and rings.event_seq between visits.first_event_seq and visits.last_event_seq

)

select * from joined
