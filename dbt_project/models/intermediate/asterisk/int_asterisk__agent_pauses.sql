{#
  Agent-level pauses: the union of an agent's pause intervals (all queues, all PBXs), so the
  PAUSEALL + per-queue PAUSE cascade, or pauses in several queues at once, count once.
  One row per continuous paused span. Its reason is the reason of the span's earliest
  interval (a PAUSEALL wins a tie with its own cascade). Overlapping intervals merge; a pause
  that starts exactly when the previous one ends (reason change) stays a separate span, so
  each reason keeps its own time.
#}

with

pause_intervals as (

    select * from {{ ref('int_asterisk__agent_pause_intervals') }}

),

intervals as (

    select
        pause_intervals.*,
        case when pause_scope = 'all_queues' then 0 else 1 end as scope_rank
    from pause_intervals

),

islands as (

    {{ interval_islands('intervals', 'agent_key', 'started_epoch', 'ended_epoch',
                        'scope_rank, start_seq, pause_interval_id', merge_touching=false) }}

),

ranked as (

    select
        islands.*,
        row_number() over (
            partition by agent_key, island_no
            order by started_epoch, scope_rank, start_seq, pause_interval_id
        ) as first_rank,
        row_number() over (
            partition by agent_key, island_no
            order by ended_epoch desc, scope_rank, start_seq, pause_interval_id
        ) as last_rank
    from islands

),

spans as (

    select
        agent_key,
        island_no as pause_no,
        max(case when first_rank = 1 then pause_interval_id end) as first_pause_interval_id,
        max(case when first_rank = 1 then pbx end) as pbx,
        max(case when first_rank = 1 then agent end) as agent,
        max(case when first_rank = 1 then reason end) as reason,
        max(case when last_rank = 1 then end_reason end) as end_reason,
        min(started_epoch) as started_epoch,
        max(ended_epoch) as ended_epoch,
        count(*) as interval_count
    from ranked
    group by agent_key, island_no

),

final as (

    select
        first_pause_interval_id as pause_id,
        agent_key,
        agent,
        pbx,
        pause_no,
        reason,
        started_epoch,
        {{ epoch_to_timestamptz('started_epoch') }} as started_at,
        ended_epoch,
        {{ epoch_to_timestamptz('ended_epoch') }} as ended_at,
        end_reason,
        ended_epoch - started_epoch as paused_seconds,
        interval_count
    from spans

)

select * from final
