{#
  Materialized as a table (not the staging default view): the duplicate flag and the event
  sequence are window functions over the whole log, and every intermediate model reads this
  relation, so computing it once is much cheaper than recomputing a view several times.
#}
{{ config(materialized='table') }}

with

file_lines as (

    select * from {{ source('raw_asterisk', 'queue_log') }}

),

table_rows as (

    select * from {{ source('raw_asterisk', 'queue_log_table') }}

),

file_renamed as (

    select
        pbx,
        'file' as source_kind,
        0 as source_rank,
        source_stream,
        source_file,
        line_no as source_position,
        event_epoch,
        callid,
        queuename,
        agent,
        event,
        data1,
        data2,
        data3,
        data4,
        data5,
        data6,
        loaded_at
    from file_lines

),

table_renamed as (

    select
        pbx,
        'table' as source_kind,
        1 as source_rank,
        row_key as source_stream,
        source_file,
        -- rows of the realtime table are ordered by their numeric id when exported, else by export position
        coalesce({{ safe_to_bigint('row_key') }}, row_no) as source_position,
        event_epoch,
        callid,
        queuename,
        agent,
        event,
        data1,
        data2,
        data3,
        data4,
        data5,
        data6,
        loaded_at
    from table_rows

),

unioned as (

    select * from file_renamed
    union all
    select * from table_renamed

),

-- rotated copies of one file are separate streams: order streams of one PBX by their first event
streams as (

    select
        pbx,
        source_kind,
        case when source_kind = 'file' then source_stream end as stream_key,
        min(event_epoch) as stream_first_epoch
    from unioned
    group by 1, 2, 3

),

sourced as (

    select
        unioned.*,
        streams.stream_first_epoch
    from unioned
    left join streams
        on unioned.pbx = streams.pbx
        and unioned.source_kind = streams.source_kind
        and coalesce(case when unioned.source_kind = 'file' then unioned.source_stream end, '')
            = coalesce(streams.stream_key, '')

),

-- Both windows in one pass, over the columns as loaded (cheaper to sort than derived strings):
-- the order of events, and the exact-duplicate flag (2nd+ copy of a line identical in every
-- field, in that order).
flagged as (

    select
        sourced.*,
        row_number() over (
            partition by pbx
            order by event_epoch, source_rank, stream_first_epoch, source_stream, source_position
        ) as event_seq,
        row_number() over (
            partition by pbx, event_epoch, callid, queuename, agent, event,
                data1, data2, data3, data4, data5, data6
            order by source_rank, stream_first_epoch, source_stream, source_position
        ) > 1 as is_duplicate
    from sourced

),

renamed as (

    select
        {{ hash_key(['pbx', 'source_kind', 'source_stream', 'source_position']) }} as event_id,
        pbx,
        source_kind,
        source_stream,
        source_file,
        source_position,
        event_seq,
        event_epoch,
        {{ epoch_to_timestamptz('event_epoch') }} as event_at,
        nullif(trim(callid), '') as callid,
        case when upper(trim(queuename)) in ('NONE', '') then null else trim(queuename) end as queue,
        case when upper(trim(agent)) in ('NONE', '') then null else trim(agent) end as agent,
        upper(trim(event)) as event,
        nullif(trim(data1), '') as data1,
        nullif(trim(data2), '') as data2,
        nullif(trim(data3), '') as data3,
        nullif(trim(data4), '') as data4,
        nullif(trim(data5), '') as data5,
        nullif(trim(data6), '') as data6,
        is_duplicate,
        loaded_at
    from flagged

)

select * from renamed
