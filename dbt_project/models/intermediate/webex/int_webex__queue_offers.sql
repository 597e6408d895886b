{#
  One row per agent offer of a Webex queue visit (webex.md §1.9 step 4): a person record of the
  journey redirected by a queue (Redirecting party UUID = a queue of the journey, or Redirect
  reason CallQueue / HuntGroup). It belongs to the latest visit that began at or before it of
  the queue that redirected it (of any queue of the journey when the redirecting party is not
  one of them), or, when none did, to the first that began after it: the two records' clocks
  can differ by a fraction of a second, and an offer a moment before its queue's record is
  still that queue's offer.
    is_connect        - answered here (not answered elsewhere)
    is_busy           - refused without ringing (busy, rejected, unavailable): not a ring attempt
    is_ring_no_answer - rang out: nobody answered it (not busy, not answered elsewhere, not
                        cancelled because the caller hung up while it rang - SIP 487, as
                        Asterisk's RINGCANCELED, which is a ring attempt but no ring-no-answer)
#}

with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

queues as (

    select journey_id, report_id, user_uuid as queue_uuid, user_name as queue, started_at as entered_at
    from legs
    where leg_role = 'queue'

),

offers as (

    select *
    from legs
    where is_queue_offer

),

candidates as (

    select
        offers.report_id as offer_report_id,
        queues.report_id as queue_report_id,
        queues.queue,
        queues.entered_at,
        row_number() over (
            partition by offers.report_id
            order by
                case when queues.entered_at <= offers.started_at then 0 else 1 end,
                abs({{ exact_seconds_between('queues.entered_at', 'offers.started_at') }}),
                {{ binary_text('queues.report_id') }} desc
        ) as candidate_rank
    from offers
    inner join queues
        on offers.journey_id = queues.journey_id
        and (offers.offering_queue_uuid = queues.queue_uuid or offers.offering_queue_uuid is null)
    where queues.entered_at is not null and offers.started_at is not null

),

final as (

    select
        {{ hash_key(["'webex'", 'candidates.queue_report_id']) }} as visit_id,
        candidates.queue_report_id,
        candidates.queue,
        candidates.entered_at as visit_entered_at,
        offers.journey_id,
        offers.report_id,
        offers.user_uuid,
        offers.user_name,
        offers.started_at,
        offers.answered_at,
        offers.released_at,
        offers.duration_seconds,
        offers.ring_seconds,
        offers.hold_seconds,
        offers.is_answered,
        offers.is_answered_elsewhere,
        offers.is_transferring,
        offers.call_outcome_reason,
        (offers.is_answered and not offers.is_answered_elsewhere) as is_connect,
        (
            not offers.is_answered
            and coalesce(offers.call_outcome_reason, '') in {{ webex_busy_outcome_reasons() }}
        ) as is_busy,
        (
            not offers.is_answered
            and not offers.is_answered_elsewhere
            and coalesce(offers.call_outcome_reason, '') not in {{ webex_busy_outcome_reasons() }}
            and coalesce(offers.call_outcome_reason, '') not in {{ webex_cancelled_outcome_reasons() }}
        ) as is_ring_no_answer
    from candidates
    inner join offers
        on candidates.offer_report_id = offers.report_id
    where candidates.candidate_rank = 1

)

select * from final
