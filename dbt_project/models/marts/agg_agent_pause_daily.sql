{#
  Per agent, local day and pause reason: pauses = agent-level pause spans that started that day;
  paused_seconds = the part of all spans that falls on that day (split at local midnights), so a
  pause across midnight adds seconds to two days but counts once, on its first day.
#}

with

asterisk_identities as (

    select platform_agent_key, agent_key, agent from {{ ref('int_agents') }} where platform = 'asterisk'

),

agent_pauses as (

    -- one person across platforms: the agent directory's identity when the member is listed
    select
        pauses.*,
        coalesce(asterisk_identities.agent_key, pauses.agent_key) as identity_key
    from {{ ref('int_asterisk__agent_pauses') }} as pauses
    left join asterisk_identities
        on pauses.agent_key = asterisk_identities.platform_agent_key

),

pauses as (

    select
        agent_pauses.*,
        coalesce(reason, '(no reason)') as reason_label
    from agent_pauses

),

agents as (

    select agent_key, max({{ binary_text('agent') }}) as agent from asterisk_identities group by agent_key

),

pause_days as (

    {{ split_by_local_day('pauses', 'started_epoch', 'ended_epoch') }}

),

started as (

    select
        identity_key as agent_key,
        cast({{ epoch_to_local_timestamp('started_epoch') }} as date) as day,
        reason_label,
        count(*) as pauses,
        0 as paused_seconds
    from pauses
    group by 1, 2, 3

),

seconds as (

    select
        identity_key as agent_key,
        day,
        reason_label,
        0 as pauses,
        sum(seconds_in_day) as paused_seconds
    from pause_days
    group by identity_key, day, reason_label

),

summed as (

    select
        agent_key,
        day,
        reason_label,
        sum(pauses) as pauses,
        sum(paused_seconds) as paused_seconds
    from (
        select * from started
        union all
        select * from seconds
    ) as unioned
    group by agent_key, day, reason_label

),

final as (

    select
        'asterisk' as platform,
        coalesce(agents.agent, summed.agent_key) as agent,
        summed.agent_key,
        summed.day,
        summed.reason_label as reason,
        cast(summed.pauses as bigint) as pauses,
        cast(summed.paused_seconds as bigint) as paused_seconds
    from summed
    left join agents
        on summed.agent_key = agents.agent_key

)

select * from final
