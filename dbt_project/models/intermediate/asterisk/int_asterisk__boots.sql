{#
  One row per PBX boot: the interval between two QUEUESTART lines (Asterisk (re)starts).
  boot 0 holds whatever the data has before its first QUEUESTART. A boot ends at the next
  QUEUESTART (restart) or, for the last boot, at the PBX's last event (end of its data).
#}

with

events as (

    select pbx, event_seq, event_epoch, event
    from {{ ref('stg_asterisk__queue_events') }}
    where not is_duplicate

),

pbx_data as (

    select
        pbx,
        min(event_epoch) as data_start_epoch,
        max(event_epoch) as data_end_epoch
    from events
    group by pbx

),

starts as (

    select
        pbx,
        row_number() over (partition by pbx order by event_seq) as boot_no,
        event_seq as start_event_seq,
        event_epoch as started_epoch
    from events
    where event = 'QUEUESTART'

),

all_boots as (

    select
        pbx,
        0 as boot_no,
        cast(null as bigint) as start_event_seq,
        cast(null as bigint) as started_epoch
    from pbx_data

    union all

    select pbx, boot_no, start_event_seq, started_epoch
    from starts

),

with_restart as (

    select
        all_boots.*,
        lead(started_epoch) over (partition by pbx order by boot_no) as restarted_epoch,
        lead(start_event_seq) over (partition by pbx order by boot_no) as restart_event_seq
    from all_boots

),

final as (

    select
        {{ hash_key(['with_restart.pbx', 'with_restart.boot_no']) }} as boot_id,
        with_restart.pbx,
        with_restart.boot_no,
        with_restart.start_event_seq,
        with_restart.started_epoch,
        {{ epoch_to_timestamptz('with_restart.started_epoch') }} as started_at,
        with_restart.restart_event_seq,
        with_restart.restarted_epoch,
        {{ epoch_to_timestamptz('with_restart.restarted_epoch') }} as restarted_at,
        pbx_data.data_end_epoch,
        coalesce(with_restart.restarted_epoch, pbx_data.data_end_epoch) as ended_epoch,
        {{ epoch_to_timestamptz('coalesce(with_restart.restarted_epoch, pbx_data.data_end_epoch)') }} as ended_at,
        case when with_restart.restarted_epoch is not null then 'restart' else 'data_end' end as end_reason
    from with_restart
    inner join pbx_data
        on with_restart.pbx = pbx_data.pbx

)

select * from final
