{#
  Per agent and local day. Visit metrics (answered, talk, ring-no-answer, transfers) are
  bucketed by the visit's entry day; logged-in and paused time are the agent-level unions
  split at local midnights. agent = case-insensitive identity, shown with its latest spelling.
#}

with

visits as (

    select * from {{ ref('fct_queue_visits') }}
    where agent_key is not null

),

rings as (

    select * from {{ ref('int_asterisk__ring_no_answers') }}
    where not is_noise
        and agent_key is not null

),

login_spans as (

    select * from {{ ref('int_asterisk__agent_login_spans') }}

),

pauses as (

    select * from {{ ref('int_asterisk__agent_pauses') }}

),

agents as (

    select * from {{ ref('int_asterisk__agents') }}

),

visit_metrics as (

    select
        agent_key,
        entered_date as day,
        sum(case when outcome = 'answered' then 1 else 0 end) as answered,
        sum(case when outcome = 'answered' then coalesce(talk_seconds, 0) else 0 end) as talk_seconds,
        cast(0 as bigint) as ring_no_answer,
        sum(case when outcome = 'answered' and transferred then 1 else 0 end) as transfers,
        cast(0 as bigint) as logged_in_seconds,
        cast(0 as bigint) as paused_seconds
    from visits
    group by agent_key, entered_date

),

ring_metrics as (

    select
        agent_key,
        cast({{ epoch_to_local_timestamp('visit_entered_epoch') }} as date) as day,
        0 as answered,
        0 as talk_seconds,
        count(*) as ring_no_answer,
        0 as transfers,
        0 as logged_in_seconds,
        0 as paused_seconds
    from rings
    group by 1, 2

),

login_days as (

    {{ split_by_local_day('login_spans', 'started_epoch', 'ended_epoch') }}

),

login_metrics as (

    select
        agent_key,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as ring_no_answer,
        0 as transfers,
        sum(seconds_in_day) as logged_in_seconds,
        0 as paused_seconds
    from login_days
    group by agent_key, day

),

pause_days as (

    {{ split_by_local_day('pauses', 'started_epoch', 'ended_epoch') }}

),

pause_metrics as (

    select
        agent_key,
        day,
        0 as answered,
        0 as talk_seconds,
        0 as ring_no_answer,
        0 as transfers,
        0 as logged_in_seconds,
        sum(seconds_in_day) as paused_seconds
    from pause_days
    group by agent_key, day

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
        agent_key,
        day,
        sum(answered) as answered,
        sum(talk_seconds) as talk_seconds,
        sum(ring_no_answer) as ring_no_answer,
        sum(transfers) as transfers,
        sum(logged_in_seconds) as logged_in_seconds,
        sum(paused_seconds) as paused_seconds
    from combined
    group by agent_key, day

),

final as (

    select
        'asterisk' as platform,
        coalesce(agents.agent, summed.agent_key) as agent,
        summed.agent_key,
        summed.day,
        cast(summed.answered as bigint) as answered,
        cast(summed.talk_seconds as bigint) as talk_seconds,
        cast(summed.ring_no_answer as bigint) as ring_no_answer,
        cast(summed.transfers as bigint) as transfers,
        cast(summed.logged_in_seconds as bigint) as logged_in_seconds,
        cast(summed.paused_seconds as bigint) as paused_seconds,
        case
            when summed.logged_in_seconds - summed.paused_seconds > 0
                then {{ ratio('summed.talk_seconds', 'summed.logged_in_seconds - summed.paused_seconds') }}
        end as occupancy
    from summed
    left join agents
        on summed.agent_key = agents.agent_key

)

select * from final
