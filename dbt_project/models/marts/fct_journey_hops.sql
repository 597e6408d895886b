{# One row per hop of a Webex call journey, in order (int_webex__journey_hops). #}

with

hops as (

    select * from {{ ref('int_webex__journey_hops') }}

)

select
    hop_id,
    journey_id as call_id,
    'webex' as platform,
    hop_no,
    hop_type,
    report_id,
    route_label,
    user_name,
    user_uuid,
    agent,
    agent_key,
    queue,
    key_pressed,
    started_at,
    answered_at,
    ended_at,
    ring_seconds,
    wait_seconds,
    talk_seconds,
    hold_seconds,
    duration_seconds,
    outcome
from hops
