{#
  Per platform, agent and local day. Visit metrics (answered, talk, wrap-up, ring-no-answer,
  transfers, by the visit's entry day) are agg_agent_queue_daily's summed over queues; logged-in
  and paused time are the agent-level unions split at local midnights (Asterisk only: Webex CDRs
  carry no agent state, so they are null for Webex rows). agent_key is the cross-platform identity of int_agents (the agent directory
  makes one person one key on every platform), shown with the directory name, else the
  platform's latest spelling.
#}

with

-- answered, talk, wrap-up, ring-no-answers and transfers per queue, summed over queues
queue_days as (

    select * from {{ ref('agg_agent_queue_daily') }}

),

identities as (

    select * from {{ ref('int_agents') }}

),

asterisk_identities as (

    select platform_agent_key, agent_key from identities where platform = 'asterisk'

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

queue_metrics as (

    select
        platform,
        agent_key,
        day,
        answered,
        talk_seconds,
        wrapup_seconds,
        ring_no_answer,
        transfers,
        cast(0 as bigint) as logged_in_seconds,
        cast(0 as bigint) as paused_seconds
    from queue_days

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

    select * from queue_metrics
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
