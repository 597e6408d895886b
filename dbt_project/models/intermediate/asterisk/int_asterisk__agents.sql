{#
  One row per agent identity. Names change case over time (karthik -> Karthik), so the
  identity is agent_key = lower({{ trim_spaces('name') }}); the display name is the spelling most recently
  logged (ties: the alphabetically last spelling). Sources: names on call lines (CONNECT,
  COMPLETE*, RINGNOANSWER, ...) and the resolved names of agent-state lines.
#}

with

call_names as (

    select agent, max(event_epoch) as last_epoch, min(event_epoch) as first_epoch
    from {{ ref('int_asterisk__queue_events') }}
    where event in {{ asterisk_visit_events() }}
        and agent is not null
    group by agent

),

state_names as (

    select agent, max(event_epoch) as last_epoch, min(event_epoch) as first_epoch
    from {{ ref('int_asterisk__agent_events') }}
    group by agent

),

spellings as (

    select agent, max(last_epoch) as last_epoch, min(first_epoch) as first_epoch
    from (
        select * from call_names
        union all
        select * from state_names
    ) as unioned
    group by agent

),

ranked as (

    select
        spellings.*,
        {{ agent_key('agent') }} as agent_key,
        row_number() over (
            partition by {{ agent_key('agent') }}
            order by last_epoch desc, {{ binary_text('agent') }} desc
        ) as spelling_rank
    from spellings

),

final as (

    select
        agent_key,
        max(case when spelling_rank = 1 then agent end) as agent,
        count(*) as spelling_count,
        {{ epoch_to_timestamptz('min(first_epoch)') }} as first_seen_at,
        {{ epoch_to_timestamptz('max(last_epoch)') }} as last_seen_at
    from ranked
    group by agent_key

)

select * from final
