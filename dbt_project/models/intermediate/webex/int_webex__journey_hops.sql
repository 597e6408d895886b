{#
  One row per hop of a Webex journey, in order: the records of the journey (int_webex__legs)
  plus the public network as a hop of its own - first for inbound calls from outside, last for
  outbound calls. Ordering is by start time to the second (a leg's originating half before its
  terminating half; AA, virtual agent, queue, person, service within the same second).

  duration_seconds is the hop's share of the journey's time: auto attendant - from its start to
  its end or to the next hop, whichever is first; queue - the visit's wait; agent, caller,
  consult, virtual agent - the talk (the record's Duration: Webex's whole seconds from answer to
  release, or those seconds from its timestamps when Duration is empty); agent offer - ringing.
  route_label is what the journey's route shows for the hop (null: not shown - a queue's offers
  that were not answered, an agent's own consult calls and the people only consulted).
#}

with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

visits as (

    select * from {{ ref('int_webex__queue_visits') }}

),

offers as (

    select report_id, queue from {{ ref('int_webex__queue_offers') }}

),

agents as (

    select platform_agent_key, agent_key, agent
    from {{ ref('int_agents') }}
    where platform = 'webex'

),

entry as (

    select
        journey_id,
        started_at,
        answered_at,
        released_at,
        is_answered,
        call_outcome,
        {{ webex_journey_direction('legs') }} as direction
    from legs
    where leg_seq = 1

),

journey_legs as (

    select
        legs.*,
        lead(legs.started_at) over (partition by legs.journey_id order by legs.leg_seq) as next_started_at
    from legs

),

record_hops as (

    select
        journey_legs.journey_id,
        2 * journey_legs.leg_seq as hop_order,
        journey_legs.hop_type,
        journey_legs.report_id,
        journey_legs.user_uuid,
        journey_legs.user_name,
        agents.agent_key,
        case when journey_legs.leg_role = 'person' then coalesce(agents.agent, journey_legs.user_name) end as agent,
        case
            when journey_legs.leg_role = 'queue' then journey_legs.user_name
            else offers.queue
        end as queue,
        journey_legs.auto_attendant_key_pressed as key_pressed,
        journey_legs.started_at,
        journey_legs.answered_at,
        journey_legs.released_at as ended_at,
        -- a record's ring and hold are measures of a leg that rings or holds: an auto attendant's
        -- or a queue's 0 (and a virtual agent's hold) measured nothing and would read as 0 s
        case when journey_legs.leg_role in ('person', 'virtual_agent', 'service')
            then journey_legs.ring_seconds end as ring_seconds,
        case when journey_legs.leg_role = 'person' then journey_legs.hold_seconds end as hold_seconds,
        visits.wait_seconds,
        case
            when journey_legs.is_answered and journey_legs.leg_role in ('person', 'virtual_agent', 'service')
                and journey_legs.hop_type <> 'agent_offer'
                then {{ webex_talk_seconds('journey_legs') }}
        end as talk_seconds,
        case
            -- (the next hop may start a fraction of a second before: see the ordering in legs)
            when journey_legs.hop_type = 'auto_attendant' then greatest(0,
                {{ seconds_between('journey_legs.started_at',
                    'least(coalesce(journey_legs.released_at, journey_legs.next_started_at), coalesce(journey_legs.next_started_at, journey_legs.released_at))') }})
            when journey_legs.hop_type = 'queue' then visits.wait_seconds
            when journey_legs.hop_type = 'agent_offer' then journey_legs.ring_seconds
            when journey_legs.is_answered then {{ webex_talk_seconds('journey_legs') }}
        end as duration_seconds,
        case
            when journey_legs.hop_type = 'queue' then visits.outcome
            when journey_legs.hop_type in ('auto_attendant', 'virtual_agent') and journey_legs.is_answered
                then case when journey_legs.next_started_at is null then 'ended' else 'transferred' end
            when journey_legs.is_answered and not journey_legs.is_answered_elsewhere
                then case when journey_legs.is_transferring then 'transferred' else 'answered' end
            when journey_legs.is_answered_elsewhere then 'answered_elsewhere'
            when coalesce(journey_legs.call_outcome_reason, '') in {{ webex_busy_outcome_reasons() }} then 'busy'
            when journey_legs.call_outcome in ('Failure', 'Refusal')
                and coalesce(journey_legs.call_outcome_reason, '') not in ('NoAnswer', 'NoAnswerFromUser', 'NoUserResponse')
                then 'failed'
            else 'no_answer'
        end as outcome,
        case
            when journey_legs.hop_type = 'auto_attendant' then
                journey_legs.user_name
                || coalesce(' [' || journey_legs.auto_attendant_key_pressed || ']', '')
            when journey_legs.hop_type in ('queue', 'virtual_agent', 'service') then journey_legs.user_name
            when journey_legs.hop_type in ('agent', 'caller') then coalesce(agents.agent, journey_legs.user_name)
            -- a person called directly who did not answer is where the call went; a queue's
            -- unanswered offers are not
            when journey_legs.hop_type = 'agent_offer' and not journey_legs.is_queue_offer
                and not journey_legs.is_consult_target
                then coalesce(agents.agent, journey_legs.user_name)
        end as route_label
    from journey_legs
    left join agents
        on lower(journey_legs.user_uuid) = agents.platform_agent_key
        and journey_legs.leg_role = 'person'
    left join visits
        on journey_legs.report_id = visits.queue_report_id
    left join offers
        on journey_legs.report_id = offers.report_id

),

network_hops as (

    select
        entry.journey_id,
        case when entry.direction = 'inbound' then 0 else 3 end as hop_order,
        'pstn' as hop_type,
        cast(null as {{ dbt.type_string() }}) as report_id,
        cast(null as {{ dbt.type_string() }}) as user_uuid,
        cast(null as {{ dbt.type_string() }}) as user_name,
        cast(null as {{ dbt.type_string() }}) as agent_key,
        cast(null as {{ dbt.type_string() }}) as agent,
        cast(null as {{ dbt.type_string() }}) as queue,
        cast(null as {{ dbt.type_string() }}) as key_pressed,
        entry.started_at,
        case when entry.direction = 'outbound' then entry.answered_at else entry.started_at end as answered_at,
        entry.released_at as ended_at,
        cast(null as {{ dbt.type_bigint() }}) as ring_seconds,
        cast(null as {{ dbt.type_bigint() }}) as hold_seconds,
        cast(null as {{ dbt.type_bigint() }}) as wait_seconds,
        cast(null as {{ dbt.type_bigint() }}) as talk_seconds,
        cast(null as {{ dbt.type_bigint() }}) as duration_seconds,
        case
            when entry.direction = 'inbound' then 'connected'
            when entry.is_answered then 'answered'
            when entry.call_outcome in ('Failure', 'Refusal') then 'failed'
            else 'no_answer'
        end as outcome,
        'PSTN' as route_label
    from entry
    where entry.direction in ('inbound', 'outbound')

),

hops as (

    select * from record_hops
    union all
    select * from network_hops

),

final as (

    select
        {{ hash_key(['journey_id', 'hop_order']) }} as hop_id,
        journey_id,
        row_number() over (partition by journey_id order by hop_order) as hop_no,
        hop_type,
        report_id,
        user_uuid,
        user_name,
        agent_key,
        agent,
        queue,
        key_pressed,
        started_at,
        answered_at,
        ended_at,
        ring_seconds,
        hold_seconds,
        wait_seconds,
        talk_seconds,
        duration_seconds,
        outcome,
        route_label
    from hops

)

select * from final
