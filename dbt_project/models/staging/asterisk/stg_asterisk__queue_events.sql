{#
  Incremental table (not the staging default view): the order, the duplicate flag and the boot
  number are window functions over the whole log and every intermediate model reads this
  relation. A run after new lines were loaded rebuilds, per PBX, only the lines from the
  earliest new epoch on (macros/asterisk_refresh.sql: stg_queue_events_plan_sql); lines before
  it keep their event_seq, is_duplicate and boot_no. `dbt build --full-refresh` rebuilds all.

  Cost shape (10M lines): one narrow sort for the order, on integer keys (the stream's rank, not
  its text), duplicates found through a fingerprint (only lines sharing pbx, epoch and
  fingerprint are compared field by field), and one join back to the full rows, on the same keys.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ stg_queue_events_pre_hooks() }}",
) }}

{% set incremental = incremental_ready() %}
{% set fingerprint_fields = ['callid', 'queuename', 'agent', 'event', 'data1', 'data2', 'data3', 'data4', 'data5', 'data6'] %}
{#- A realtime table row's place in its table: its numeric id (a row_key is "<id>:<md5 of the
    content>", or "<id>" for a row loaded before keys held the content), else its row_no (the
    export's order: pipelines/asterisk/queue_log_table.py) -#}
{% set table_row_position -%}
    coalesce({{ safe_to_count(dbt.split_part('table_rows.row_key', "':'", 1), max_digits=18) }}, table_rows.row_no)
{%- endset %}

with

{% if incremental %}
-- the region to rebuild (written and deleted from this table by the pre-hook)
plan as (

    select pbx, cutoff_epoch from {{ plan_relation('stg_asterisk__queue_events__plan') }}

),

-- what stays: every line before the region (numbering continues after it)
kept as (

    select pbx, max(event_seq) as base_seq, max(boot_no) as base_boot
    from {{ this }}
    group by pbx

),
{% endif %}

-- a file line carries only its stream; the stream's PBX and file are in log_streams (a line
-- whose stream row is missing was loaded by a run that did not complete: the next run replaces it)
streams as (

    select source_stream, pbx, source_file
    from {{ source('raw_asterisk', 'log_streams') }}
    where kind = 'queue_log'

),

file_lines as not materialized (

    select
        streams.pbx,
        file_lines.source_stream,
        streams.source_file,
        file_lines.line_no as source_position,
        file_lines.event_epoch,
        file_lines.callid,
        file_lines.queuename,
        file_lines.agent,
        file_lines.event,
        file_lines.data1,
        file_lines.data2,
        file_lines.data3,
        file_lines.data4,
        file_lines.data5,
        file_lines.data6,
        file_lines.loaded_at
    from {{ source('raw_asterisk', 'queue_log') }} as file_lines
    inner join streams
        on file_lines.source_stream = streams.source_stream
    {% if incremental -%}
    inner join plan
        on streams.pbx = plan.pbx
        and file_lines.event_epoch >= plan.cutoff_epoch
    {%- endif %}

),

table_rows as not materialized (

    select table_rows.*
    from {{ source('raw_asterisk', 'queue_log_table') }} as table_rows
    {% if incremental -%}
    inner join plan
        on table_rows.pbx = plan.pbx
        and table_rows.event_epoch >= plan.cutoff_epoch
    {%- endif %}

),

-- rotated copies of one file are separate streams: order streams of one PBX by their first
-- event (over all of raw, also in an incremental run); each export of the realtime table is one
-- stream (table_streams).
-- stream_order numbers that order, so that the sorts and joins over every line below use
-- integer keys, not the stream's text (10M lines: the ordering sort 16 -> 5 thread-seconds)
file_streams as not materialized (

    select
        streams.pbx,
        stream_epochs.source_stream,
        stream_epochs.stream_first_epoch,
        dense_rank() over (
            partition by streams.pbx order by stream_epochs.stream_first_epoch, {{ binary_text('stream_epochs.source_stream') }}
        ) as stream_order
    from (
        select source_stream, min(event_epoch) as stream_first_epoch
        from {{ source('raw_asterisk', 'queue_log') }}
        group by source_stream
    ) as stream_epochs
    inner join streams
        on stream_epochs.source_stream = streams.source_stream

),

-- each export of a realtime table is ordered as a whole, the one with the oldest rows first:
-- two exports number their rows apart (ids, or places when they have none), and a row found in
-- both is kept from the first (duplicates below), so a call's rows of one second keep one
-- export's order (an ENTERQUEUE kept from one export and its ABANDON from the other came out
-- in either order)
table_streams as not materialized (

    select pbx, source_file, min(event_epoch) as stream_first_epoch
    from {{ source('raw_asterisk', 'queue_log_table') }}
    group by pbx, source_file

),

unioned as not materialized (

    -- (columns in the order of file_lines, which lists them)
    select
        file_lines.*,
        'file' as source_kind,
        0 as source_rank,
        file_streams.stream_first_epoch,
        file_streams.stream_order
    from file_lines
    left join file_streams
        on file_lines.pbx = file_streams.pbx
        and file_lines.source_stream = file_streams.source_stream

    union all

    select
        table_rows.pbx,
        table_rows.row_key as source_stream,
        table_rows.source_file,
        -- rows of the realtime table are ordered by their numeric id when exported, else by row_no
        {{ table_row_position }} as source_position,
        table_rows.event_epoch,
        table_rows.callid,
        table_rows.queuename,
        table_rows.agent,
        table_rows.event,
        table_rows.data1,
        table_rows.data2,
        table_rows.data3,
        table_rows.data4,
        table_rows.data5,
        table_rows.data6,
        table_rows.loaded_at,
        'table' as source_kind,
        1 as source_rank,
        table_streams.stream_first_epoch,
        -- a table row is a stream of its own, in its export's place (table_streams) and then in
        -- the table's order: its numeric id, else its row_no, its place in the export read
        -- oldest first (rows of one second keep it: a DID before its ENTERQUEUE). Not the key's
        -- text, where id 10 sorts before id 9 and a content hash at random; the key after the id
        -- tells apart rows of one id (the table emptied).
        dense_rank() over (
            partition by table_rows.pbx
            order by table_streams.stream_first_epoch, {{ binary_text('table_rows.source_file') }},
                {{ table_row_position }}, {{ binary_text('table_rows.row_key') }}
        ) as stream_order
    from table_rows
    left join table_streams
        on table_rows.pbx = table_streams.pbx
        and table_rows.source_file = table_streams.source_file

),

sourced as not materialized (

    select
        unioned.*,
        {{ row_fingerprint(fingerprint_fields) }} as fingerprint
    from unioned

),

-- Exact duplicates (2nd+ copy, in event order, of a line identical in every field). Copies
-- share pbx, epoch and fingerprint; only such groups are compared field by field.
candidate_groups as not materialized (

    select pbx, event_epoch, fingerprint
    from sourced
    group by pbx, event_epoch, fingerprint
    having count(*) > 1

),

-- A PBX that logs to its file and to a realtime table writes an event at second T in the file
-- (truncated) and at T or T + 1 in the table (MySQL rounds the fraction: asterisk-queue-log.md
-- §1.2). A table row is the copy of a file line of the second before when they agree in every
-- field and neither second holds the other kind with those fields. Only PBXs with table rows
-- are looked at; an incremental run also reads the second before its region. (The fingerprint's
-- fields are unqualified: no other relation joined below has columns of those names.)
table_pbx as (

    select distinct pbx from {{ source('raw_asterisk', 'queue_log_table') }}

),

near_keys as (

    select
        streams.pbx,
        'file' as source_kind,
        near_lines.event_epoch,
        {{ row_fingerprint(fingerprint_fields) }} as fingerprint
    from {{ source('raw_asterisk', 'queue_log') }} as near_lines
    inner join streams
        on near_lines.source_stream = streams.source_stream
    inner join table_pbx
        on streams.pbx = table_pbx.pbx
    {% if incremental -%}
    inner join plan
        on streams.pbx = plan.pbx
        and near_lines.event_epoch >= plan.cutoff_epoch - 1
    {%- endif %}

    union all

    select
        near_rows.pbx,
        'table' as source_kind,
        near_rows.event_epoch,
        {{ row_fingerprint(fingerprint_fields) }} as fingerprint
    from {{ source('raw_asterisk', 'queue_log_table') }} as near_rows
    {% if incremental -%}
    inner join plan
        on near_rows.pbx = plan.pbx
        and near_rows.event_epoch >= plan.cutoff_epoch - 1
    {%- endif %}

),

near_groups as (

    select
        pbx,
        event_epoch,
        fingerprint,
        max(case when source_kind = 'file' then 1 else 0 end) as has_file,
        max(case when source_kind = 'table' then 1 else 0 end) as has_table
    from near_keys
    group by pbx, event_epoch, fingerprint

),

late_table_copies as (

    select late.pbx, late.event_epoch, late.fingerprint
    from near_groups as late
    inner join near_groups as early
        on late.pbx = early.pbx
        and late.fingerprint = early.fingerprint
        and late.event_epoch = early.event_epoch + 1
    where late.has_table = 1 and late.has_file = 0
        and early.has_file = 1 and early.has_table = 0

),

duplicates as not materialized (

    -- (the same key as table rows carry in unioned)
    select
        table_rows.pbx,
        'table' as source_kind,
        table_rows.row_key as source_stream,
        {{ table_row_position }} as source_position
    from table_rows
    inner join late_table_copies
        on table_rows.pbx = late_table_copies.pbx
        and table_rows.event_epoch = late_table_copies.event_epoch
        and {{ row_fingerprint(fingerprint_fields) }} = late_table_copies.fingerprint

    union

    select pbx, source_kind, source_stream, source_position
    from (
        select
            sourced.pbx,
            sourced.source_kind,
            sourced.source_stream,
            sourced.source_position,
            row_number() over (
                partition by sourced.pbx, sourced.event_epoch, sourced.callid, sourced.queuename,
                    sourced.agent, sourced.event, sourced.data1, sourced.data2, sourced.data3,
                    sourced.data4, sourced.data5, sourced.data6
                order by sourced.source_rank, sourced.stream_first_epoch,
                    {{ binary_text("case when sourced.source_kind = 'table' then sourced.source_file end") }},
                    {{ binary_text('sourced.source_stream') }}, sourced.source_position
            ) as copy_no
        from sourced
        inner join candidate_groups
            on sourced.pbx = candidate_groups.pbx
            and sourced.event_epoch = candidate_groups.event_epoch
            and sourced.fingerprint = candidate_groups.fingerprint
    ) as copies
    where copy_no > 1

),

-- The order of events and the boot number, on the line identities only (a narrow sort): a
-- QUEUESTART (Asterisk (re)start) that is not a duplicate opens the next boot.
ordered as not materialized (

    select
        sourced.pbx,
        sourced.source_rank,
        sourced.stream_order,
        sourced.source_position,
        duplicates.pbx is not null as is_duplicate,
        {% if incremental %}coalesce(kept.base_seq, 0) + {% endif -%}
        row_number() over event_order as event_seq,
        {% if incremental %}coalesce(kept.base_boot, 0) + {% endif -%}
        count(
            case when upper({{ trim_spaces('sourced.event') }}) = 'QUEUESTART' and duplicates.pbx is null then 1 end
        ) over (event_order rows between unbounded preceding and current row) as boot_no
    from sourced
    left join duplicates
        on sourced.pbx = duplicates.pbx
        and sourced.source_kind = duplicates.source_kind
        and sourced.source_stream = duplicates.source_stream
        and sourced.source_position = duplicates.source_position
    {% if incremental -%}
    left join kept
        on sourced.pbx = kept.pbx
    {%- endif %}
    window event_order as (
        partition by sourced.pbx
        order by sourced.event_epoch, sourced.source_rank, sourced.stream_order, sourced.source_position
    )

),

renamed as (

    select
        {{ hash_key(['unioned.pbx', 'unioned.source_kind', 'unioned.source_stream', 'unioned.source_position']) }} as event_id,
        unioned.pbx,
        unioned.source_kind,
        unioned.source_stream,
        unioned.source_file,
        unioned.source_position,
        ordered.event_seq,
        ordered.boot_no,
        unioned.event_epoch,
        {{ epoch_to_timestamptz('unioned.event_epoch') }} as event_at,
        nullif({{ trim_spaces('unioned.callid') }}, '') as callid,
        case when upper({{ trim_spaces('unioned.queuename') }}) in ('NONE', '') then null else {{ trim_spaces('unioned.queuename') }} end as queue,
        case when upper({{ trim_spaces('unioned.agent') }}) in ('NONE', '') then null else {{ trim_spaces('unioned.agent') }} end as agent,
        upper({{ trim_spaces('unioned.event') }}) as event,
        nullif({{ trim_spaces('unioned.data1') }}, '') as data1,
        nullif({{ trim_spaces('unioned.data2') }}, '') as data2,
        nullif({{ trim_spaces('unioned.data3') }}, '') as data3,
        nullif({{ trim_spaces('unioned.data4') }}, '') as data4,
        nullif({{ trim_spaces('unioned.data5') }}, '') as data5,
        nullif({{ trim_spaces('unioned.data6') }}, '') as data6,
        ordered.is_duplicate,
        unioned.loaded_at,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from unioned
    inner join ordered
        on unioned.pbx = ordered.pbx
        and unioned.source_rank = ordered.source_rank
        and unioned.stream_order = ordered.stream_order
        and unioned.source_position = ordered.source_position

)

select * from renamed
