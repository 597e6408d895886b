with

visits as (

    select * from {{ ref('int_asterisk__queue_visits') }}

),

agents as (

    select * from {{ ref('int_asterisk__agents') }}

),

final as (

    select
        visits.visit_id,
        'asterisk' as platform,
        pbx,
        callid as call_id,
        queue,
        entered_at,
        connected_at,
        ended_at,
        caller_number,
        did,
        outcome,
        is_short_abandon,
        -- one name per agent across marts (latest spelling); the line's own spelling is kept too
        coalesce(agents.agent, visits.agent) as agent,
        visits.agent as agent_as_logged,
        visits.agent_key,
        wait_seconds,
        talk_seconds,
        wrapup_seconds,
        ring_attempts,
        ring_no_answer_count,
        transferred,
        position_at_entry,
        is_orphan as is_entry_reconstructed,
        is_refused_at_join,
        is_closed_by_restart,
        terminal_event,
        cast({{ epoch_to_local_timestamp('entered_epoch') }} as date) as entered_date,
        {{ quarter_hour_start(epoch_to_local_timestamp('entered_epoch')) }} as entered_interval_start
    from visits
    left join agents
        on visits.agent_key = agents.agent_key

)

select * from final
