{#
  Agent-level pauses: the union of an agent's pause intervals (all queues, all PBXs), so the
  PAUSEALL + per-queue PAUSE cascade, or pauses in several queues at once, count once.
  One row per continuous paused span. Its reason is the reason of the span's earliest
  interval (a PAUSEALL wins a tie with its own cascade). Overlapping intervals merge; a pause
  that starts exactly when the previous one ends with another reason (a reason change) stays a
  separate span, so each reason keeps its own time. With the same reason it continues the span:
  Asterisk logs a PAUSE again when a paused member is paused again, without an UNPAUSE between
  (an UNPAUSE and a PAUSE of one reason in the same second are no break either).
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

islands_spans as (

    select
        agent_key,
        island_no,
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

-- an island starting where the one before ends, with its reason, continues it
continued as (

    select
        islands_spans.*,
        case
            when lag(ended_epoch) over agent_islands = started_epoch
                and lag(reason) over agent_islands is not distinct from reason then 0
            else 1
        end as starts_pause
    from islands_spans
    window agent_islands as (partition by agent_key order by island_no)

),

numbered as (

    select
        continued.*,
        cast(sum(starts_pause) over (
            partition by agent_key order by island_no rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as pause_no
    from continued

),

bounded as (

    select
        numbered.*,
        starts_pause = 1 as is_first,
        island_no = max(island_no) over (partition by agent_key, pause_no) as is_last
    from numbered

),

spans as (

    select
        agent_key,
        pause_no,
        max(case when is_first then first_pause_interval_id end) as first_pause_interval_id,
        max(case when is_first then pbx end) as pbx,
        max(case when is_first then agent end) as agent,
        max(case when is_first then reason end) as reason,
        max(case when is_last then end_reason end) as end_reason,
        min(started_epoch) as started_epoch,
        max(ended_epoch) as ended_epoch,
        cast(sum(interval_count) as {{ dbt.type_bigint() }}) as interval_count
    from bounded
    group by agent_key, pause_no

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
