{#
  One row per Webex queue visit: one queue (call queue or hunt group) record of a journey,
  from the call entering the queue to an agent answering, the caller leaving, or the queue
  sending the call on. A journey that enters the same queue twice (transferred back) has two
  visits, as an Asterisk call that re-enters a queue does.

  Offers: int_webex__queue_offers. The first answered offer is the connect; offers refused as
  busy or unavailable are not ringing (Asterisk's 0/1000 ms RINGNOANSWER noise) and count in
  neither ring_attempts nor ring_no_answer_count.

  Outcome: answered (an offer was answered) | timeout (the queue sent the call on unanswered:
  overflow or forward, a related call of its own or a record it redirected with a reason other
  than CallQueue/HuntGroup; or the queue released the caller itself, Releasing party Local) |
  abandoned (the caller hung up waiting or while an agent's phone rang). CDRs are written when a
  leg ends, so there is no open visit. wait = connect − entry, or queue end − entry; talk =
  the answering agent's answer → release (seconds with milliseconds).
#}

with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

queues as (

    select
        journey_id,
        report_id,
        user_uuid as queue_uuid,
        user_name as queue,
        started_at as entered_at,
        released_at as queue_released_at,
        calling_number,
        related_call_id,
        related_reason,
        releasing_party
    from legs
    where leg_role = 'queue'

),

offers as (

    select * from {{ ref('int_webex__queue_offers') }}

),

connects as (

    select
        offers.*,
        row_number() over (
            partition by queue_report_id order by answered_at, {{ binary_text('report_id') }}
        ) as connect_rank
    from offers
    where is_connect

),

offer_counts as (

    select
        queue_report_id,
        count(case when not is_busy then 1 end) as ring_attempts,
        count(case when is_ring_no_answer then 1 end) as ring_no_answer_count,
        count(*) as offers
    from offers
    group by queue_report_id

),

sent_on as (

    -- records the queue redirected elsewhere than to an agent (overflow, forwarding)
    select distinct queues.report_id as queue_report_id
    from queues
    inner join legs
        on legs.journey_id = queues.journey_id
        and legs.redirecting_party_uuid = queues.queue_uuid
        and legs.started_at >= queues.entered_at
        and coalesce(legs.redirect_reason, '') not in {{ webex_queue_redirect_reasons() }}
        and not legs.is_queue_offer

),

journey_entry as (

    select journey_id, called_number as did
    from legs
    where leg_seq = 1

),

final as (

    select
        {{ hash_key(["'webex'", 'queues.report_id']) }} as visit_id,
        queues.journey_id,
        queues.report_id as queue_report_id,
        queues.queue_uuid,
        queues.queue,
        queues.entered_at,
        connects.answered_at as connected_at,
        case
            when connects.report_id is not null then connects.released_at
            else queues.queue_released_at
        end as ended_at,
        queues.calling_number as caller_number,
        journey_entry.did,
        case
            when connects.report_id is not null then 'answered'
            when sent_on.queue_report_id is not null
                or (queues.related_call_id is not null
                    and coalesce(queues.related_reason, '') not in {{ webex_queue_redirect_reasons() }})
                -- the queue itself released the caller (disconnect at its maximum wait)
                or queues.releasing_party = 'Local'
                then 'timeout'
            else 'abandoned'
        end as outcome,
        connects.user_uuid as agent_user_uuid,
        connects.user_name as agent_user_name,
        connects.report_id as agent_report_id,
        -- waits and talk keep the timestamps' milliseconds, so the service level and short
        -- abandon thresholds compare the real wait (Webex's own Duration is floored)
        case
            when connects.report_id is not null
                then {{ exact_seconds_between('queues.entered_at', 'connects.answered_at') }}
            else {{ exact_seconds_between('queues.entered_at', 'queues.queue_released_at') }}
        end as wait_seconds,
        case
            when connects.released_at is not null
                then coalesce({{ exact_seconds_between('connects.answered_at', 'connects.released_at') }},
                              cast(connects.duration_seconds as double precision))
        end as talk_seconds,
        connects.hold_seconds,
        coalesce(offer_counts.ring_attempts, 0) as ring_attempts,
        coalesce(offer_counts.ring_no_answer_count, 0) as ring_no_answer_count,
        coalesce(offer_counts.offers, 0) as offers,
        coalesce(connects.is_transferring, false) as transferred
    from queues
    left join connects
        on queues.report_id = connects.queue_report_id
        and connects.connect_rank = 1
    left join offer_counts
        on queues.report_id = offer_counts.queue_report_id
    left join sent_on
        on queues.report_id = sent_on.queue_report_id
    left join journey_entry
        on queues.journey_id = journey_entry.journey_id

)

select * from final
