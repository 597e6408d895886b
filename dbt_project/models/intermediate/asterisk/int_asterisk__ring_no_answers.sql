{#
  One row per RINGNOANSWER inside a queue visit (between its first event and its first
  terminal event): the member that was rung and did not answer. data1 is the ring time in
  milliseconds; '0' and '1000' come from busy/unavailable members on ring-all queues, not from
  real ringing, and are flagged is_noise (NethVoice Report deletes them).
#}

with

rings as (

    select * from {{ ref('int_asterisk__queue_events') }}
    where event = 'RINGNOANSWER'
        and callid is not null
        and queue is not null

),

visits as (

    select * from {{ ref('int_asterisk__queue_visits') }}

),

joined as (

    select
        rings.event_id as ring_id,
        visits.visit_id,
        rings.pbx,
        rings.queue,
        rings.callid,
        rings.agent,
        {{ agent_key('rings.agent') }} as agent_key,
        rings.event_epoch as rang_epoch,
        rings.event_at as rang_at,
        {{ safe_to_bigint('rings.data1') }} as ring_ms,
        coalesce(rings.data1, '') in ('0', '1000') as is_noise,
        visits.entered_epoch as visit_entered_epoch
    from rings
    inner join visits
        on rings.pbx = visits.pbx
        and rings.boot_no = visits.boot_no
        and rings.callid = visits.callid
        and rings.queue = visits.queue
        and rings.event_seq between visits.first_event_seq and visits.last_event_seq

)

select * from joined
