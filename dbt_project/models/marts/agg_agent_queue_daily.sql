{#
  Per platform, agent, queue and local day: what agg_agent_daily says per agent, told per queue,
  plus the time the agent was a member of the queue. It answers "who worked this queue", idle
  members included: an agent logged in to a queue all day who answered nothing has a row here
  (member_seconds > 0, answered 0) and none in fct_queue_visits.
  Visit figures are bucketed by the visit's entry day, as in agg_agent_daily, so summed over
  queues they give its answered, talk, wrap-up, ring-no-answer and transfers (agg_agent_daily
  sums this model for them; tests/assert_agent_queue_days_within_agent_days.sql checks that no
  queue's member_seconds exceeds the day's logged-in time). member_seconds is the union of the
  agent's ADDMEMBER -> REMOVEMEMBER sessions in the queue, split at local midnights (Asterisk
  only; an AGENTLOGIN names no queue, and Webex CDRs carry no agent state).
#}

with

visits as (

    select * from {{ ref('fct_queue_visits') }}
    where agent_key is not null

),

identities as (

    select * from {{ ref('int_agents') }}

),

asterisk_identities as (

    select platform_agent_key, agent_key from identities where platform = 'asterisk'

),

rings as (

    select
        'asterisk' as platform,
        coalesce(asterisk_identities.agent_key, rings.agent_key) as agent_key,
        rings.queue,
        cast({{ epoch_to_local_timestamp('rings.visit_entered_epoch') }} as date) as day
    from {{ ref('int_asterisk__ring_no_answers') }} as rings
    left join asterisk_identities
        on rings.agent_key = asterisk_identities.platform_agent_key
    where not rings.is_noise
        and rings.agent_key is not null

    union all

    select
        'webex' as platform,
        coalesce(webex_identities.agent_key, lower(offers.user_uuid)) as agent_key,
        offers.queue,
        cast({{ to_local_timestamp('offers.visit_entered_at') }} as date) as day
    from {{ ref('int_webex__queue_offers') }} as offers
    left join identities as webex_identities
        on webex_identities.platform = 'webex'
        and lower(offers.user_uuid) = webex_identities.platform_agent_key
    where offers.is_ring_no_answer
        and offers.user_uuid is not null

),

memberships as (

    select
        sessions.session_id,
        sessions.queue,
        sessions.started_epoch,
        sessions.ended_epoch,
        coalesce(asterisk_identities.agent_key, sessions.agent_key) as identity_key
    from {{ ref('int_asterisk__agent_sessions') }} as sessions
    left join asterisk_identities
        on sessions.agent_key = asterisk_identities.platform_agent_key
    where sessions.session_type = 'queue_membership'

),

-- two interfaces of one agent in the same queue (or a repeated ADDMEMBER) count once
membership_islands as (

    {{ interval_islands('memberships', 'identity_key, queue', 'started_epoch', 'ended_epoch', 'session_id') }}

),

membership_spans as (

    select
        identity_key,
        queue,
        min(started_epoch) as started_epoch,
        max(ended_epoch) as ended_epoch
    from membership_islands
    group by identity_key, queue, island_no

),

membership_days as (

    {{ split_by_local_day('membership_spans', 'started_epoch', 'ended_epoch') }}

),

-- one shown name per (platform, identity), as in agg_agent_daily
agents as (

    select platform, agent_key, max({{ binary_text('agent') }}) as agent
    from identities
    group by platform, agent_key

),

visit_metrics as (

    select
        platform,
        agent_key,
        queue,
        entered_date as day,
        sum(case when outcome = 'answered' then 1 else 0 end) as answered,
        sum(case when outcome = 'answered' then coalesce(talk_seconds, 0) else 0 end) as talk_seconds,
        sum(case when outcome = 'answered' then coalesce(wrapup_seconds, 0) else 0 end) as wrapup_seconds,
        cast(0 as bigint) as ring_no_answer,
        sum(case when outcome = 'answered' and transferred then 1 else 0 end) as transfers,
        cast(0 as bigint) as member_seconds
    from visits
    group by platform, agent_key, queue, entered_date

),

ring_metrics as (

    select
        platform,
        agent_key,
        queue,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as wrapup_seconds,
        count(*) as ring_no_answer,
        0 as transfers,
        0 as member_seconds
    from rings
    group by platform, agent_key, queue, day

),

membership_metrics as (

    select
        'asterisk' as platform,
        identity_key as agent_key,
        queue,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as wrapup_seconds,
        0 as ring_no_answer,
        0 as transfers,
        sum(seconds_in_day) as member_seconds
    from membership_days
    group by identity_key, queue, day

),

combined as (

    select * from visit_metrics
    union all
    select * from ring_metrics
    union all
    select * from membership_metrics

),

summed as (

    select
        platform,
        agent_key,
        queue,
        day,
        sum(answered) as answered,
        sum(talk_seconds) as talk_seconds,
        sum(wrapup_seconds) as wrapup_seconds,
        sum(ring_no_answer) as ring_no_answer,
        sum(transfers) as transfers,
        sum(member_seconds) as member_seconds
    from combined
    group by platform, agent_key, queue, day

),

final as (

    select
        summed.platform,
        summed.queue,
        coalesce(agents.agent, summed.agent_key) as agent,
        summed.agent_key,
        summed.day,
        cast(summed.answered as bigint) as answered,
        cast(summed.talk_seconds as bigint) as talk_seconds,
        cast(summed.wrapup_seconds as bigint) as wrapup_seconds,
        cast(summed.ring_no_answer as bigint) as ring_no_answer,
        cast(summed.transfers as bigint) as transfers,
        -- membership is known only where the platform logs it (Asterisk queue_log)
        case when summed.platform = 'asterisk' then cast(summed.member_seconds as bigint) end as member_seconds
    from summed
    left join agents
        on summed.platform = agents.platform
        and summed.agent_key = agents.agent_key

)

select * from final
