{#
  Per platform, agent and local day. Visit metrics (answered, talk, wrap-up, ring-no-answer, transfers)
  are bucketed by the visit's entry day; logged-in and paused time are the agent-level unions
  split at local midnights (Asterisk only: Webex CDRs carry no agent state, so they are null
  for Webex rows). agent_key is the cross-platform identity of int_agents (the agent directory
  makes one person one key on every platform), shown with the directory name, else the
  platform's latest spelling.
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
        cast({{ to_local_timestamp('offers.visit_entered_at') }} as date) as day
    from {{ ref('int_webex__queue_offers') }} as offers
    left join identities as webex_identities
        on webex_identities.platform = 'webex'
        and lower(offers.user_uuid) = webex_identities.platform_agent_key
    where offers.is_ring_no_answer
        and offers.user_uuid is not null

),

login_spans as (

    select spans.*, coalesce(asterisk_identities.agent_key, spans.agent_key) as identity_key
    from {{ ref('int_asterisk__agent_login_spans') }} as spans
    left join asterisk_identities
        on spans.agent_key = asterisk_identities.platform_agent_key

),

pauses as (

    select pauses.*, coalesce(asterisk_identities.agent_key, pauses.agent_key) as identity_key
    from {{ ref('int_asterisk__agent_pauses') }} as pauses
    left join asterisk_identities
        on pauses.agent_key = asterisk_identities.platform_agent_key

),

-- one shown name per (platform, identity): the directory's, else the platform's latest spelling
agents as (

    select platform, agent_key, max({{ binary_text('agent') }}) as agent
    from identities
    group by platform, agent_key

),

visit_metrics as (

    select
        platform,
        agent_key,
        entered_date as day,
        sum(case when outcome = 'answered' then 1 else 0 end) as answered,
        sum(case when outcome = 'answered' then coalesce(talk_seconds, 0) else 0 end) as talk_seconds,
        sum(case when outcome = 'answered' then coalesce(wrapup_seconds, 0) else 0 end) as wrapup_seconds,
        cast(0 as bigint) as ring_no_answer,
        sum(case when outcome = 'answered' and transferred then 1 else 0 end) as transfers,
        cast(0 as bigint) as logged_in_seconds,
        cast(0 as bigint) as paused_seconds
    from visits
    group by platform, agent_key, entered_date

),

ring_metrics as (

    select
        platform,
        agent_key,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as wrapup_seconds,
        count(*) as ring_no_answer,
        0 as transfers,
        0 as logged_in_seconds,
        0 as paused_seconds
    from rings
    group by platform, agent_key, day

),

login_days as (

    {{ split_by_local_day('login_spans', 'started_epoch', 'ended_epoch') }}

),

login_metrics as (

    select
        'asterisk' as platform,
        identity_key as agent_key,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as wrapup_seconds,
        0 as ring_no_answer,
        0 as transfers,
        sum(seconds_in_day) as logged_in_seconds,
        0 as paused_seconds
    from login_days
    group by identity_key, day

),

pause_days as (

    {{ split_by_local_day('pauses', 'started_epoch', 'ended_epoch') }}

),

pause_metrics as (

    select
        'asterisk' as platform,
        identity_key as agent_key,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as wrapup_seconds,
        0 as ring_no_answer,
        0 as transfers,
        0 as logged_in_seconds,
        sum(seconds_in_day) as paused_seconds
    from pause_days
    group by identity_key, day

),

combined as (

    select * from visit_metrics
    union all
    select * from ring_metrics
    union all
    select * from login_metrics
    union all
    select * from pause_metrics

),

summed as (

    select
        platform,
        agent_key,
        day,
        sum(answered) as answered,
        sum(talk_seconds) as talk_seconds,
        sum(wrapup_seconds) as wrapup_seconds,
        sum(ring_no_answer) as ring_no_answer,
        sum(transfers) as transfers,
        sum(logged_in_seconds) as logged_in_seconds,
        sum(paused_seconds) as paused_seconds
    from combined
    group by platform, agent_key, day

),

final as (

    select
        summed.platform,
        coalesce(agents.agent, summed.agent_key) as agent,
        summed.agent_key,
        summed.day,
        cast(summed.answered as bigint) as answered,
        cast(summed.talk_seconds as bigint) as talk_seconds,
        cast(summed.wrapup_seconds as bigint) as wrapup_seconds,
        cast(summed.ring_no_answer as bigint) as ring_no_answer,
        cast(summed.transfers as bigint) as transfers,
        -- agent state is known only where the platform logs it (Asterisk queue_log)
        case when summed.platform = 'asterisk' then cast(summed.logged_in_seconds as bigint) end as logged_in_seconds,
        case when summed.platform = 'asterisk' then cast(summed.paused_seconds as bigint) end as paused_seconds,
        case
            when summed.platform = 'asterisk' and summed.logged_in_seconds - summed.paused_seconds > 0
                then {{ ratio('summed.talk_seconds + summed.wrapup_seconds', 'summed.logged_in_seconds - summed.paused_seconds') }}
        end as occupancy
    from summed
    left join agents
        on summed.platform = agents.platform
        and summed.agent_key = agents.agent_key

)

select * from final
