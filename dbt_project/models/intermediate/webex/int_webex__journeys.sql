{#
  One row per Webex journey (one customer call, every record linked to it), with its readable
  route, where its time went and how it ended.

  direction  inbound (first record received from outside), outbound (placed by a user to an
             off-net number), internal (both ends on the platform).
  outcome    how the journey ended, as fct_calls defines it on every platform: answered when a
             person answered (an agent, or the far end of an outbound call) - also when the
             caller later left a queue the call was transferred to (that visit is abandoned in
             fct_queue_visits); else abandoned / timeout when its last queue was left unanswered
             (the caller hung up waiting / the queue sent the call on); self_service when it
             ended in an auto attendant or virtual agent (no person rang after it); failed
             (refused or failed before anyone answered) | unanswered (rang out).
  Times (seconds): auto_attendant and virtual_agent = hop durations; queue = sum of the visits'
  waits; talk and hold = agents' answered legs (for outbound calls, the caller's own leg);
  ring = ringing of the agent offers and person legs (for outbound calls, the caller's leg).
  final_agent: the last agent who answered (outbound calls: the caller, when the far end
  answered); a person only consulted (consult not turned into a transfer) is not an agent of
  the call, and not in the route.
  An agent's consult call is not added again: its time is inside the agents' legs; and where
  agents' legs overlap (the consult before a transfer) the overlap counts once.
#}

with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

hops as (

    select * from {{ ref('int_webex__journey_hops') }}

),

visits as (

    select * from {{ ref('int_webex__queue_visits') }}

),

entry as (

    select
        journey_id,
        report_id,
        user_name,
        {{ webex_journey_direction('legs') }} as direction,
        coalesce(calling_number_e164, calling_number) as caller_number,
        coalesce(called_number_e164, called_number, dialed_digits) as callee_number,
        calling_number_type,
        called_number_type,
        calling_number_country,
        coalesce(called_number_country, international_country) as called_number_country
    from legs
    where leg_seq = 1

),

leg_totals as (

    select
        journey_id,
        min(started_at) as started_at,
        max(released_at) as ended_at,
        count(*) as record_count,
        max(case when is_recorded then 1 else 0 end) as any_recorded,
        max(case when call_outcome in ('Failure', 'Refusal') then 1 else 0 end) as any_failure,
        max(case when is_transferring and leg_role = 'person' then 1 else 0 end) as any_transfer
    from legs
    group by journey_id

),

talk_hops as (

    -- The legs whose talk is the call's: agents that answered (outbound: the caller's own leg).
    -- Legs can overlap - after a consult, the agent taking the call answered while the first one
    -- was still on the line (the caller on hold) - so each leg counts only past the latest end
    -- of the legs answered before it, and the call's talk never exceeds its length.
    select
        hops.journey_id,
        hops.hop_no,
        hops.answered_at,
        hops.ended_at,
        hops.talk_seconds,
        hops.hold_seconds,
        max(hops.ended_at) over (
            partition by hops.journey_id order by hops.answered_at, hops.hop_no
            rows between unbounded preceding and 1 preceding
        ) as earlier_legs_ended_at
    from hops
    inner join entry
        on hops.journey_id = entry.journey_id
    where hops.hop_type = 'agent' or (hops.hop_type = 'caller' and entry.direction = 'outbound')

),

talk_totals as (

    select
        journey_id,
        -- (sums cast back to bigint: DuckDB widens a bigint sum to hugeint, Postgres to numeric)
        cast(sum(case
            when earlier_legs_ended_at is null or earlier_legs_ended_at <= answered_at then talk_seconds
            when earlier_legs_ended_at >= ended_at then 0
            else least(talk_seconds, {{ seconds_between('earlier_legs_ended_at', 'ended_at') }})
        end) as bigint) as talk_seconds,
        cast(sum(hold_seconds) as bigint) as hold_seconds
    from talk_hops
    group by journey_id

),

hop_totals as (

    select
        hops.journey_id,
        count(*) as hop_count,
        count(case when hops.hop_type = 'queue' then 1 end) as queue_count,
        count(case when hops.hop_type = 'agent' then 1 end) as agent_count,
        max(case when hops.hop_type in ('auto_attendant', 'virtual_agent') and hops.answered_at is not null
            then hops.hop_no end) as last_self_service_hop_no,
        max(case when hops.hop_type = 'agent_offer' then hops.hop_no end) as last_offer_hop_no,
        sum(case when hops.hop_type = 'auto_attendant' then hops.duration_seconds end) as auto_attendant_seconds,
        sum(case when hops.hop_type = 'virtual_agent' then hops.duration_seconds end) as virtual_agent_seconds,
        cast(sum(case when hops.hop_type in ('agent', 'agent_offer') or (hops.hop_type = 'caller' and entry.direction = 'outbound')
            then hops.ring_seconds end) as bigint) as ring_seconds,
        -- the caller's own record says whether the far end answered an outbound or internal call
        -- (an internal callee's record, when loaded, is an agent hop of its own)
        max(case when hops.hop_type = 'caller' and entry.direction in ('outbound', 'internal')
            and hops.answered_at is not null then 1 else 0 end) as far_end_answered
    from hops
    inner join entry
        on hops.journey_id = entry.journey_id
    group by hops.journey_id

),

first_queue as (

    select journey_id, queue as first_queue
    from (
        select journey_id, queue, row_number() over (partition by journey_id order by hop_no) as queue_rank
        from hops
        where hop_type = 'queue'
    ) as ranked
    where queue_rank = 1

),

final_agent as (

    select journey_id, agent as final_agent, agent_key as final_agent_key
    from (
        select
            hops.journey_id,
            hops.agent,
            hops.agent_key,
            row_number() over (partition by hops.journey_id order by hops.answered_at desc nulls last, hops.hop_no desc) as agent_rank
        from hops
        inner join entry
            on hops.journey_id = entry.journey_id
        where hops.hop_type = 'agent'
            or (hops.hop_type = 'caller' and entry.direction = 'outbound' and hops.answered_at is not null)
    ) as ranked
    where agent_rank = 1

),

queue_totals as (

    select
        journey_id,
        sum(wait_seconds) as queue_seconds,
        max(case when outcome = 'answered' then 1 else 0 end) as any_queue_answer
    from visits
    group by journey_id

),

last_visit as (

    select journey_id, outcome as last_visit_outcome
    from (
        select journey_id, outcome, row_number() over (partition by journey_id order by entered_at desc, {{ binary_text('visit_id') }}) as visit_rank
        from visits
    ) as ranked
    where visit_rank = 1

),

route_hops as (

    -- a label repeated by the next shown hop (two records of one service) is shown once
    select journey_id, hop_no, route_label
    from (
        select
            journey_id,
            hop_no,
            route_label,
            lag(route_label) over (partition by journey_id order by hop_no) as previous_label
        from hops
        where route_label is not null
    ) as shown
    where previous_label is null or previous_label <> route_label

),

routes as (

    select
        journey_id,
        {{ dbt.listagg('route_label', "' → '", 'order by hop_no') }} as route
    from route_hops
    group by journey_id

),

final as (

    select
        entry.journey_id,
        entry.direction,
        leg_totals.started_at,
        leg_totals.ended_at,
        entry.caller_number,
        entry.callee_number,
        case
            when entry.direction = 'internal' then 'internal'
            when entry.direction = 'inbound' then {{ call_type_from_number_type('entry.calling_number_type') }}
            else {{ call_type_from_number_type('entry.called_number_type') }}
        end as call_type,
        case
            when entry.direction = 'inbound' then entry.calling_number_country
            when entry.direction = 'outbound' then entry.called_number_country
        end as country,
        first_queue.first_queue,
        final_agent.final_agent,
        final_agent.final_agent_key,
        case
            when hop_totals.agent_count > 0 or hop_totals.far_end_answered = 1 then 'answered'
            when last_visit.last_visit_outcome = 'abandoned' then 'abandoned'
            when last_visit.last_visit_outcome = 'timeout' then 'timeout'
            -- an auto attendant that sent the caller to a person who did not answer is not where
            -- the call ended
            when hop_totals.last_self_service_hop_no > coalesce(hop_totals.last_offer_hop_no, 0) then 'self_service'
            when leg_totals.any_failure = 1 then 'failed'
            else 'unanswered'
        end as outcome,
        routes.route,
        coalesce(hop_totals.ring_seconds, 0) as ring_seconds,
        coalesce(hop_totals.auto_attendant_seconds, 0) as auto_attendant_seconds,
        coalesce(queue_totals.queue_seconds, 0) as queue_seconds,
        coalesce(hop_totals.virtual_agent_seconds, 0) as virtual_agent_seconds,
        coalesce(talk_totals.talk_seconds, 0) as talk_seconds,
        coalesce(talk_totals.hold_seconds, 0) as hold_seconds,
        leg_totals.any_recorded = 1 as recorded,
        leg_totals.any_transfer = 1 as transferred,
        leg_totals.record_count,
        hop_totals.hop_count,
        hop_totals.queue_count
    from entry
    inner join leg_totals
        on entry.journey_id = leg_totals.journey_id
    inner join hop_totals
        on entry.journey_id = hop_totals.journey_id
    left join talk_totals
        on entry.journey_id = talk_totals.journey_id
    left join first_queue
        on entry.journey_id = first_queue.journey_id
    left join final_agent
        on entry.journey_id = final_agent.journey_id
    left join queue_totals
        on entry.journey_id = queue_totals.journey_id
    left join last_visit
        on entry.journey_id = last_visit.journey_id
    left join routes
        on entry.journey_id = routes.journey_id

)

select * from final
