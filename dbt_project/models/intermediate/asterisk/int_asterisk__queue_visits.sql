{#
  One row per queue visit: one (pbx, boot, callid, queue) from ENTERQUEUE to its first
  terminal event (asterisk-queue-log.md §6.1). The rules, in order:

  * Segments. Within (pbx, boot, callid, queue), every ENTERQUEUE starts a new visit
    (multi-stint calls re-enter the same queue; lines a script wrote with no call id are keyed
    by the empty id, as a reused one). Events before the first ENTERQUEUE form
    segment 0; it becomes an "orphan" visit only if it holds a terminal event or an agent's
    CONNECT (the file started mid-call, or a Wazo FULL/CLOSED/JOINEMPTY logged without
    ENTERQUEUE); an orphan connected and not ended is answered and still talking, entered at
    connect - holdtime.
  * The first terminal event closes the visit; later events of the segment are ignored. So
    does IssabelPBX's custom one-field TRANSFER (data1 = target, no calltime): talk = transfer -
    connect. A COMPLETE* after it is the end of the member's Local channel, which stays bridged
    with the transfer target: its calltime holds the target's conversation too (§4, item 13).
    That line is logged under the call's LINKEDID: when the queue caller's channel did not open
    the call (it came through a Local channel), the line stands alone under another id, and it
    ends the visit its member was talking to in that queue (linked_transfers), not a visit of
    its own.
  * No terminal: the exit line is missing (is_exit_missing) when the same call entered the same
    queue again (ended_at = that entry: a call is in a queue once at a time, also after an agent
    took it): answered if there was a CONNECT (its talk time unknown), else 'other'. Otherwise
    answered-and-talking if there was a CONNECT. Else the exit line is missing ('other',
    is_exit_missing) when the PBX's data goes on for more than
    var('open_visit_timeout_seconds') after the entry (ended_at unknown: asterisk-queue-log.md
    §4.7, close calls without a terminal event with a timeout; the default of one day is Wazo's
    window for pairing an ENTERQUEUE with its end); else 'other' when the PBX restarted after
    entry (ended_at = the restart); else 'open' (still waiting).
  * Nothing survives a restart: lines of a call after a QUEUESTART whose last ENTERQUEUE in that
    queue came before it, with no exit line after it, are remnants of the visit the restart
    closed, not a second (orphan) visit. So are they when that ENTERQUEUE was lost: the call
    has a CONNECT or DID line in that queue before the restart and no exit line there at all.
  * Refused at join: IssabelPBX/FreePBX write a DID line (callid, queue) right before Queue(),
    and stock Asterisk logs nothing when the queue refuses the caller (joinempty, full). A DID
    line not followed by the ENTERQUEUE of the same call and queue (nor by other DID lines of the
    call only, up to its ENTERQUEUE a second or less later: a DID logged twice; nor written into
    that visit a second or less after it, out of order, other lines of the call between them or
    not: the visit takes that DID) is such a visit: outcome 'join_empty', entered and ended at the DID line,
    no wait (is_refused_at_join). Unless an orphan visit follows it (no ENTERQUEUE before the
    call's CONNECT or exit line: that line lost to damage or rotation): the caller was in the
    queue, and that orphan visit is the call's only visit.

  Incremental: a visit depends only on the events of its boot, the boot's end (a restart, or the
  PBX's last line of any kind) and the DID lines of the same call, so a run rebuilds, per PBX,
  the boots from the first one with new or re-sequenced lines on (macros/asterisk_refresh.sql:
  boot_plan_sql); older boots are kept as they are.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='visit_id',
    on_schema_change='append_new_columns',
    meta={'rows_depend_on_vars': ['short_abandon_seconds', 'open_visit_timeout_seconds']},
    pre_hook="{{ boot_plan_pre_hook(staged_lines()) }}",
) }}

-- depends_on: {{ ref('stg_asterisk__queue_events') }} (refresh plan: every staged line)

{% set incremental = incremental_ready() %}

with

{{ rebuilt_boots_cte(incremental) }}

-- only the columns that number and bound the visits: every event goes through the numbering
-- window's sort, and its text fields (id, agent, data1-5) carried through it made DuckDB spill;
-- the landmark events' values are looked up once the visits are known (landmark_events)
events as (

    select
        events.pbx, events.boot_no, events.event_seq, events.event_epoch,
        -- a line a script wrote with no call id ('epoch||queue|...') is a call all the same, keyed
        -- like a reused id (NONE): dropped, its visit vanished without a reject (audit 5 F2)
        coalesce(events.callid, '') as callid, events.queue, events.event,
        -- a RINGNOANSWER of 0 or 1000 ms rang no one (asterisk-queue-log.md §4)
        (events.event = 'RINGNOANSWER' and coalesce(events.data1, '') not in ('0', '1000')) as is_ring_no_answer
    from {{ ref('int_asterisk__queue_events') }} as events
    {{ in_rebuilt_boots('events', incremental) }}
    where (events.event in {{ asterisk_visit_events() }} or events.event = 'DID')
        and events.queue is not null

),

boots as (

    select * from {{ ref('int_asterisk__boots') }}

),

segmented as (

    select
        events.*,
        count(case when event = 'ENTERQUEUE' then 1 end) over (
            partition by pbx, boot_no, callid, queue
            order by event_seq
            rows between unbounded preceding and current row
        ) as visit_no,
        -- a DID line of a caller who entered is followed by its ENTERQUEUE (or by an orphan
        -- visit, that line lost), or written into the visit a second or less after its
        -- ENTERQUEUE (the lines out of order: late_dids)
        lead(event) over (
            partition by pbx, boot_no, callid, queue
            order by event_seq
        ) as next_event,
        -- lines other than DID so far: a DID whose next such line is its ENTERQUEUE has only DID
        -- lines between them (a DID line logged twice: refused_did_seqs)
        count(case when event <> 'DID' then 1 end) over (
            partition by pbx, boot_no, callid, queue
            order by event_seq
            rows between unbounded preceding and current row
        ) as call_line_no
    from events

),

-- DID lines play no part in a visit's own events (the DID of a visit is looked up below)
call_events as not materialized (

    select * from segmented
    where event <> 'DID'

),

-- The visit's landmarks, one row per visit (a grouping, not a window over every event: the
-- partition-wide window aggregates cost ~16 s on 7M events, the grouping and join ~3 s).
visit_bounds as (

    select
        pbx,
        boot_no,
        callid,
        queue,
        visit_no,
        min(event_seq) as first_seq,
        min(event_epoch) as first_epoch,
        min(call_line_no) as first_call_line_no,
        max(event_seq) as last_seq,
        min(case when event = 'CONNECT' then event_seq end) as first_connect_seq,
        -- the first terminal event (IssabelPBX's own one-field TRANSFER included)
        min(case when event in {{ asterisk_terminal_events() }} then event_seq end) as terminal_seq
    from call_events
    group by pbx, boot_no, callid, queue, visit_no

),

visit_scopes as (

    select
        visit_bounds.*,
        coalesce(terminal_seq, last_seq) as scope_last_seq,
        case
            when first_connect_seq <= coalesce(terminal_seq, last_seq) then first_connect_seq
        end as connect_seq
    from visit_bounds

),

-- visits without an exit line that the same call entered again (visit_no + 1 is the next
-- ENTERQUEUE of the call in this queue and boot): they ended by then, waiting or talking (a
-- segment here that is no visit - visit 0 without a CONNECT - joins none below)
reentered as (

    select waiting.pbx, waiting.first_seq, next_visit.first_epoch as reentered_epoch
    from visit_scopes as waiting
    inner join visit_bounds as next_visit
        on next_visit.pbx = waiting.pbx
        and next_visit.boot_no = waiting.boot_no
        and next_visit.callid = waiting.callid
        and next_visit.queue = waiting.queue
        and next_visit.visit_no = waiting.visit_no + 1
    where waiting.terminal_seq is null

),

-- orphan segments after a restart whose call was still in this queue when an earlier boot ended
-- (see header): its last ENTERQUEUE there has no terminal line after it, or, that line lost, it
-- has a CONNECT or DID there and no terminal line at all. The few orphans are joined to the
-- entry and exit lines, not every line probed per segment.
restart_remnants as (

    select orphans.pbx, orphans.boot_no, orphans.callid, orphans.queue
    from visit_scopes as orphans
    inner join {{ ref('int_asterisk__queue_events') }} as entries
        on entries.pbx = orphans.pbx
        -- (on the id as stored: a call logged with no id is not looked for across a restart,
        -- and the join reads every line by a plain key)
        and entries.callid = orphans.callid
        and entries.queue = orphans.queue
        and entries.boot_no < orphans.boot_no
    where orphans.visit_no = 0
        and orphans.boot_no > 0
        and (orphans.terminal_seq is not null or orphans.connect_seq is not null)
        and (entries.event in ('ENTERQUEUE', 'CONNECT', 'DID') or entries.event in {{ asterisk_terminal_events() }})
    group by orphans.pbx, orphans.boot_no, orphans.callid, orphans.queue
    having max(case when entries.event = 'ENTERQUEUE' then entries.event_seq end)
        > coalesce(max(case when entries.event in {{ asterisk_terminal_events() }} then entries.event_seq end), -1)
        -- its ENTERQUEUE lost: a CONNECT or DID there, and no exit line of it at all (a CONNECT
        -- after an exit line is a stint whose ENTERQUEUE was lost, ignored: these lines are not
        -- its remnants but its only trace)
        or (max(case when entries.event in {{ asterisk_terminal_events() }} then 1 end) is null
            and max(case when entries.event in ('CONNECT', 'DID') then 1 end) is not null)

),

-- IssabelPBX's own TRANSFER line is logged under the call's LINKEDID (see header), which is not
-- the queue caller's id when the caller reached the queue on a channel that did not open the
-- call (through a Local channel): the line is then a segment of its own, with no CONNECT. It
-- belongs to the visit its member was talking to in that queue: the one of the member's latest
-- CONNECT there before it, not ended by then. (Few such lines: a small join; a line no
-- connected visit takes stays an orphan visit.)
linked_transfers as (

    select
        transfers.pbx, transfers.boot_no, transfers.callid, transfers.queue, transfers.orphan_first_seq,
        transfers.transfer_seq, max(connects.event_seq) as host_connect_seq
    from (
        select orphans.pbx, orphans.boot_no, orphans.callid, orphans.queue, orphans.first_seq as orphan_first_seq,
            orphans.terminal_seq as transfer_seq, {{ agent_key('lines.agent') }} as agent_key
        from visit_scopes as orphans
        inner join {{ ref('int_asterisk__queue_events') }} as lines
            on lines.pbx = orphans.pbx
            and lines.event_seq = orphans.terminal_seq
        {{ in_rebuilt_boots('lines', incremental) }}
        where orphans.visit_no = 0
            and orphans.connect_seq is null
            and lines.event = 'TRANSFER'
            and lines.data2 is null
            and lines.agent is not null
    ) as transfers
    inner join {{ ref('int_asterisk__queue_events') }} as connects
        on connects.pbx = transfers.pbx
        and connects.boot_no = transfers.boot_no
        and connects.queue = transfers.queue
        and {{ agent_key('connects.agent') }} = transfers.agent_key
        and connects.event_seq < transfers.transfer_seq
        and coalesce(connects.callid, '') <> transfers.callid
    {{ in_rebuilt_boots('connects', incremental) }}
    where connects.event = 'CONNECT'
    group by transfers.pbx, transfers.boot_no, transfers.callid, transfers.queue, transfers.orphan_first_seq,
        transfers.transfer_seq

),

transfer_hosts as (

    select linked_transfers.*, hosts.first_seq as host_first_seq
    from linked_transfers
    inner join visit_scopes as hosts
        on hosts.pbx = linked_transfers.pbx
        and hosts.connect_seq = linked_transfers.host_connect_seq
    where coalesce(hosts.terminal_seq > linked_transfers.transfer_seq, true)

),

-- per segment (pbx, first_seq): the visit a linked TRANSFER ends, and the TRANSFER's own
-- segment, which is then no visit. Should lines of two other ids name one visit, the first ends
-- it and the second is dropped too (a transfer is counted once: §4 item 13)
transfer_scopes as (

    select pbx, host_first_seq as first_seq, min(transfer_seq) as transfer_seq, false as is_taken
    from transfer_hosts
    group by pbx, host_first_seq

    union all

    select pbx, orphan_first_seq, null, true
    from transfer_hosts

),

-- the segments that are visits: segment 0 with neither a terminal event nor a CONNECT is not
-- one (only stray ringing lines), nor is a restart's remnant, nor a TRANSFER line a visit took
-- (transfer_scopes: it is that visit's exit line). (Inlined in its two readers, the visits and
-- the refused DIDs: a stored copy of every visit for the few refused DIDs cost ~2 s in the
-- 10M-line build.)
counted_scopes as not materialized (

    select
        visit_scopes.pbx,
        visit_scopes.boot_no,
        visit_scopes.callid,
        visit_scopes.queue,
        visit_scopes.visit_no,
        visit_scopes.first_seq,
        coalesce(transfer_scopes.transfer_seq, visit_scopes.scope_last_seq) as scope_last_seq,
        coalesce(transfer_scopes.transfer_seq, visit_scopes.terminal_seq) as terminal_seq,
        visit_scopes.connect_seq
    from visit_scopes
    left join restart_remnants
        on visit_scopes.visit_no = 0
        and visit_scopes.pbx = restart_remnants.pbx
        and visit_scopes.boot_no = restart_remnants.boot_no
        and visit_scopes.callid = restart_remnants.callid
        and visit_scopes.queue = restart_remnants.queue
    left join transfer_scopes
        on visit_scopes.pbx = transfer_scopes.pbx
        and visit_scopes.first_seq = transfer_scopes.first_seq
    where (visit_scopes.visit_no > 0 or visit_scopes.terminal_seq is not null or visit_scopes.connect_seq is not null)
        and restart_remnants.pbx is null
        and not coalesce(transfer_scopes.is_taken, false)

),

-- rings of each visit up to its exit line (per segment: those that are no visit join none below)
ring_counts as (

    select
        rings.pbx,
        visit_scopes.first_seq,
        count(case when rings.is_ring_no_answer then 1 end) as ring_no_answer_count,
        count(case when rings.event = 'RINGCANCELED' then 1 end) as ring_canceled_count
    from call_events as rings
    inner join visit_scopes
        on rings.pbx = visit_scopes.pbx
        and rings.boot_no = visit_scopes.boot_no
        and rings.callid = visit_scopes.callid
        and rings.queue = visit_scopes.queue
        and rings.visit_no = visit_scopes.visit_no
    where rings.event in ('RINGNOANSWER', 'RINGCANCELED')
        and rings.event_seq <= visit_scopes.scope_last_seq
    group by rings.pbx, visit_scopes.first_seq

),

-- the lines a visit's values are read from: its first line, its CONNECT and its exit line, each
-- looked up by (pbx, event_seq), unique within a PBX (a join each: grouping the three lines of
-- every visit was the model's costliest step)
first_lines as (

    select lines.pbx, lines.event_seq, lines.event_id, lines.event, lines.event_epoch, lines.data2, lines.data3
    from {{ ref('int_asterisk__queue_events') }} as lines
    {{ in_rebuilt_boots('lines', incremental) }}
    where lines.event in {{ asterisk_visit_events() }}

),

connect_lines as (

    select lines.pbx, lines.event_seq, lines.event_epoch, lines.agent, lines.data1
    from {{ ref('int_asterisk__queue_events') }} as lines
    {{ in_rebuilt_boots('lines', incremental) }}
    where lines.event = 'CONNECT'

),

terminal_lines as (

    select lines.pbx, lines.event_seq, lines.event, lines.event_epoch, lines.agent, lines.data1, lines.data2, lines.data3, lines.data4, lines.data5
    from {{ ref('int_asterisk__queue_events') }} as lines
    {{ in_rebuilt_boots('lines', incremental) }}
    where lines.event in {{ asterisk_terminal_events() }}

),

-- one row per visit: its scope, the values of its landmark lines and its rings
visits as (

    select
        counted_scopes.pbx,
        counted_scopes.boot_no,
        counted_scopes.callid,
        counted_scopes.queue,
        counted_scopes.visit_no,
        counted_scopes.first_seq,
        counted_scopes.scope_last_seq,
        counted_scopes.terminal_seq,
        counted_scopes.connect_seq,
        first_lines.event_id as anchor_event_id,
        case when first_lines.event = 'ENTERQUEUE' then first_lines.event_epoch end as enter_epoch,
        case when first_lines.event = 'ENTERQUEUE' then first_lines.data2 end as caller_number,
        case when first_lines.event = 'ENTERQUEUE' then first_lines.data3 end as position_text,
        connect_lines.event_epoch as connect_epoch,
        connect_lines.agent as connect_agent,
        connect_lines.data1 as connect_holdtime_text,
        terminal_lines.event as terminal_event,
        terminal_lines.agent as terminal_agent,
        terminal_lines.event_epoch as end_epoch,
        terminal_lines.data1 as end_data1,
        terminal_lines.data2 as end_data2,
        terminal_lines.data3 as end_data3,
        terminal_lines.data4 as end_data4,
        terminal_lines.data5 as end_data5,
        coalesce(ring_counts.ring_no_answer_count, 0) as ring_no_answer_count,
        coalesce(ring_counts.ring_canceled_count, 0) as ring_canceled_count
    from counted_scopes
    inner join first_lines
        on first_lines.pbx = counted_scopes.pbx
        and first_lines.event_seq = counted_scopes.first_seq
    left join connect_lines
        on connect_lines.pbx = counted_scopes.pbx
        and connect_lines.event_seq = counted_scopes.connect_seq
    left join terminal_lines
        on terminal_lines.pbx = counted_scopes.pbx
        and terminal_lines.event_seq = counted_scopes.terminal_seq
    left join ring_counts
        on ring_counts.pbx = counted_scopes.pbx
        and ring_counts.first_seq = counted_scopes.first_seq

),

fields as (

    select
        visits.*,
        {{ safe_to_count('connect_holdtime_text') }} as connect_holdtime,
        -- waiting time written by the event that ended the visit
        case
            when terminal_event in ('COMPLETEAGENT', 'COMPLETECALLER') then {{ safe_to_count('end_data1') }}
            when terminal_event in ('TRANSFER', 'BLINDTRANSFER') then {{ safe_to_count('end_data3') }}
            when terminal_event = 'ATTENDEDTRANSFER' and end_data1 in ('BRIDGE', 'APP') then {{ safe_to_count('end_data3') }}
            when terminal_event = 'ATTENDEDTRANSFER' and end_data1 = 'LINK' then {{ safe_to_count('end_data4') }}
            when terminal_event in ('ABANDON', 'EXITWITHTIMEOUT', 'EXITEMPTY', 'LEAVEEMPTY', 'WITHDRAW')
                then {{ safe_to_count('end_data3') }}
            when terminal_event = 'EXITWITHKEY' then {{ safe_to_count('end_data4') }}
        end as end_wait_field,
        -- talk time written by the event that ended the visit
        case
            when terminal_event in ('COMPLETEAGENT', 'COMPLETECALLER') then {{ safe_to_count('end_data2') }}
            when terminal_event in ('TRANSFER', 'BLINDTRANSFER') then {{ safe_to_count('end_data4') }}
            when terminal_event = 'ATTENDEDTRANSFER' and end_data1 in ('BRIDGE', 'APP') then {{ safe_to_count('end_data4') }}
            when terminal_event = 'ATTENDEDTRANSFER' and end_data1 = 'LINK' then {{ safe_to_count('end_data5') }}
        end as end_talk_field,
        (
            connect_seq is not null
            or terminal_event in {{ asterisk_answered_terminal_events() }}
        ) as is_answered
    from visits

),

with_boot as (

    select
        fields.*,
        boots.restarted_epoch,
        boots.data_end_epoch,
        reentered.reentered_epoch
    from fields
    inner join boots
        on fields.pbx = boots.pbx
        and fields.boot_no = boots.boot_no
    left join reentered
        on fields.pbx = reentered.pbx
        and fields.first_seq = reentered.first_seq

),

timed as (

    select
        with_boot.*,
        case
            when enter_epoch is not null then enter_epoch
            -- orphan visit (a terminal event or a CONNECT): connect - holdtime when it connected
            -- and its end gives no talk time (still talking, or a one-field TRANSFER), else
            -- end - talk - wait (Wazo's partial calls)
            when connect_epoch is not null and (end_epoch is null or end_talk_field is null)
                then connect_epoch - coalesce(connect_holdtime, 0)
            else end_epoch
                - coalesce(case when is_answered then end_talk_field end, 0)
                - coalesce(connect_holdtime, end_wait_field, 0)
        end as entered_epoch,
        case
            when end_epoch is not null then end_epoch
            when reentered_epoch is not null then reentered_epoch
            when restarted_epoch is not null then restarted_epoch
        end as ended_epoch,
        (end_epoch is null and reentered_epoch is null and restarted_epoch is not null) as is_closed_by_restart,
        -- (re-entry is looked up only for visits without a terminal event of their own id: one a
        -- linked TRANSFER ended has one)
        coalesce(
            (reentered_epoch is not null and terminal_seq is null)
            or (
                terminal_seq is null and connect_seq is null and restarted_epoch is null
                and data_end_epoch - enter_epoch > {{ var('open_visit_timeout_seconds') }}
            ),
            false
        ) as is_exit_missing
    from with_boot

),

measured as (

    select
        timed.*,
        case
            when is_answered then coalesce(connect_holdtime, end_wait_field, connect_epoch - entered_epoch)
            -- the end - enter fallback needs a logged entry: an orphan without a waittime field
            -- (Wazo's JOINEMPTY / FULL / CLOSED, refused before queueing) has no known wait
            when end_epoch is not null
                then coalesce(end_wait_field, case when enter_epoch is not null then end_epoch - entered_epoch end)
        end as wait_seconds,
        case
            when is_answered and end_epoch is not null
                then coalesce(end_talk_field, end_epoch - connect_epoch)
        end as talk_seconds,
        case
            when is_answered then 'answered'
            when terminal_event = 'ABANDON' then 'abandoned'
            when terminal_event = 'EXITWITHTIMEOUT' then 'timeout'
            when terminal_event = 'EXITWITHKEY' then 'exit_key'
            when terminal_event in ('EXITEMPTY', 'LEAVEEMPTY') then 'exit_empty'
            when terminal_event in ('JOINEMPTY', 'JOINUNAVAIL') then 'join_empty'
            when terminal_event in ('WITHDRAW', 'FULL', 'CLOSED') then 'other'
            when is_closed_by_restart or is_exit_missing then 'other'
            else 'open'
        end as outcome,
        -- the member who answered: an ABANDON written with a member's name (the caller hung up as
        -- that member was about to talk, reference §4.16) names no one who answered
        case when is_answered then coalesce(connect_agent, terminal_agent) end as answering_agent
    from timed

),

-- DID lines written out of order into a visit of their call and queue: at most a second after
-- its ENTERQUEUE and before its exit line (other lines of the call may sit between, as a ring of
-- the same second). They belong to that visit, not to a refused caller. (Few DIDs follow their
-- ENTERQUEUE: a small join.)
late_dids as (

    select dids.pbx, dids.event_seq as did_seq, entered.first_seq
    from segmented as dids
    inner join visit_bounds as entered
        on entered.pbx = dids.pbx
        and entered.boot_no = dids.boot_no
        and entered.callid = dids.callid
        and entered.queue = dids.queue
        and entered.visit_no = dids.visit_no
    where dids.event = 'DID'
        and dids.visit_no > 0
        and coalesce(dids.next_event, '') <> 'ENTERQUEUE'
        and dids.event_epoch - entered.first_epoch <= 1
        and coalesce(entered.terminal_seq > dids.event_seq, true)

),

-- DID: the latest DID line of the same call (pbx, callid) at or before the visit's first event,
-- or the one written late into the visit (late_dids)
did_lines as (

    select dids.pbx, coalesce(dids.callid, '') as callid, dids.event_seq as seq, dids.data1 as did
    from {{ ref('int_asterisk__queue_events') }} as dids
    where dids.event = 'DID'
    {%- if incremental %}
        -- every DID line of the calls being rebuilt, also from older boots
        and exists (select 1 from visits where visits.pbx = dids.pbx and visits.callid = coalesce(dids.callid, ''))
    {%- endif %}

),

-- (a call has one or a few DID lines and visits: this join stays about as long as its inputs)
visit_did_seqs as (

    select pbx, first_seq, max(did_seq) as did_seq
    from (
        select visits.pbx, visits.first_seq, max(did_lines.seq) as did_seq
        from visits
        inner join did_lines
            on visits.pbx = did_lines.pbx
            and visits.callid = did_lines.callid
            and did_lines.seq <= visits.first_seq
        group by visits.pbx, visits.first_seq

        union all

        -- (after the visit's first event: it outranks any DID line before it)
        select pbx, first_seq, max(did_seq) as did_seq
        from late_dids
        group by pbx, first_seq
    ) as candidates
    group by pbx, first_seq

),

visit_dids as (

    select visit_did_seqs.pbx, visit_did_seqs.first_seq, did_lines.did
    from visit_did_seqs
    inner join did_lines
        on visit_did_seqs.pbx = did_lines.pbx
        and visit_did_seqs.did_seq = did_lines.seq

),

-- wrap-up (Wazo WRAPUPSTART, data1 = seconds): attributed to the agent's latest answered visit
-- that ended before it in the same boot
wrapup_lines as (

    select
        wrapups.pbx, wrapups.boot_no, {{ agent_key('wrapups.agent') }} as agent_key, wrapups.event_seq as seq,
        {{ safe_to_count('wrapups.data1') }} as wrapup_seconds
    from {{ ref('int_asterisk__queue_events') }} as wrapups
    {{ in_rebuilt_boots('wrapups', incremental) }}
    where wrapups.event = 'WRAPUPSTART' and wrapups.agent is not null

),

wrapup_timeline as (

    select
        pbx, boot_no, agent_key, seq,
        cast(null as {{ dbt.type_string() }}) as visit_anchor,
        wrapup_seconds
    from wrapup_lines

    union all

    -- only agents (per boot) that logged wrap-ups at all (plain Asterisk logs none)
    select
        pbx, boot_no, {{ agent_key('answering_agent') }} as agent_key, terminal_seq as seq,
        anchor_event_id as visit_anchor,
        cast(null as bigint) as wrapup_seconds
    from measured
    where terminal_seq is not null and answering_agent is not null
        and exists (
            select 1 from wrapup_lines
            where wrapup_lines.pbx = measured.pbx
                and wrapup_lines.boot_no = measured.boot_no
                and wrapup_lines.agent_key = {{ agent_key('measured.answering_agent') }}
        )

),

wrapup_grouped as (

    select
        wrapup_timeline.*,
        count(visit_anchor) over (
            partition by pbx, boot_no, agent_key
            order by seq
            rows between unbounded preceding and current row
        ) as visit_group
    from wrapup_timeline

),

wrapup_assigned as (

    select
        max(visit_anchor) over (partition by pbx, boot_no, agent_key, visit_group) as visit_anchor,
        visit_anchor as own_anchor,
        wrapup_seconds,
        seq,
        visit_group
    from wrapup_grouped

),

visit_wrapups as (

    select
        visit_anchor,
        -- only the first WRAPUPSTART after the call counts
        min(case when wrapup_seconds is not null then seq end) as first_wrapup_seq,
        max(wrapup_seconds) as max_wrapup_seconds,
        count(wrapup_seconds) as wrapup_count
    from wrapup_assigned
    where own_anchor is null and visit_group > 0
    group by visit_anchor

),

first_wrapups as (

    select
        wrapup_assigned.visit_anchor,
        max(wrapup_assigned.wrapup_seconds) as wrapup_seconds
    from wrapup_assigned
    inner join visit_wrapups
        on wrapup_assigned.visit_anchor = visit_wrapups.visit_anchor
        and wrapup_assigned.seq = visit_wrapups.first_wrapup_seq
    group by wrapup_assigned.visit_anchor

),

-- DID lines whose call never entered that queue: refused at join (see header). A DID that its
-- ENTERQUEUE does not follow (nor precede by a second, out of order: late_dids) is refused unless
-- the lines after it are an orphan visit it comes right before: a CONNECT or exit line, the
-- ENTERQUEUE lost.
-- Ringing alone makes no visit, and lines after a visit's exit line are ignored (near-duplicates),
-- so a DID before those is still a refused caller. (Few DIDs lack their ENTERQUEUE: a small join.)
refused_did_seqs as (

    select dids.pbx, dids.boot_no, dids.callid, dids.queue, dids.event_seq, dids.event_epoch
    from segmented as dids
    left join counted_scopes as orphan
        on dids.next_event <> 'DID'
        and dids.visit_no = 0
        and orphan.visit_no = 0
        and orphan.pbx = dids.pbx
        and orphan.boot_no = dids.boot_no
        and orphan.callid = dids.callid
        and orphan.queue = dids.queue
        and orphan.first_seq > dids.event_seq
    left join late_dids
        on late_dids.pbx = dids.pbx
        and late_dids.did_seq = dids.event_seq
    -- followed by other DID lines only, up to the call's ENTERQUEUE a second or less later (the
    -- DID line logged twice, as with two numbers): the caller entered; that visit takes the last
    left join visit_bounds as entered_after_dids
        on dids.next_event = 'DID'
        and entered_after_dids.pbx = dids.pbx
        and entered_after_dids.boot_no = dids.boot_no
        and entered_after_dids.callid = dids.callid
        and entered_after_dids.queue = dids.queue
        and entered_after_dids.visit_no = dids.visit_no + 1
        and entered_after_dids.first_call_line_no = dids.call_line_no + 1
        and entered_after_dids.first_epoch - dids.event_epoch <= 1
    where dids.event = 'DID'
        and coalesce(dids.next_event, '') <> 'ENTERQUEUE'
        and orphan.pbx is null
        and late_dids.pbx is null
        and entered_after_dids.pbx is null

),

-- their id and DID number (the numbering above carries no text fields)
refused_dids as (

    select refused_did_seqs.*, lines.event_id, lines.data1
    from refused_did_seqs
    inner join {{ ref('int_asterisk__queue_events') }} as lines
        on lines.pbx = refused_did_seqs.pbx
        and lines.event_seq = refused_did_seqs.event_seq
    {{ in_rebuilt_boots('lines', incremental) }}
    where lines.event = 'DID'

),

refused as (

    select
        event_id as visit_id,
        pbx,
        boot_no,
        callid,
        queue,
        0 as visit_no,
        false as is_orphan,
        true as is_refused_at_join,
        event_seq as first_event_seq,
        event_seq as last_event_seq,
        event_epoch as entered_epoch,
        {{ epoch_to_timestamptz('event_epoch') }} as entered_at,
        cast(null as bigint) as connected_epoch,
        {{ epoch_to_timestamptz('cast(null as bigint)') }} as connected_at,
        event_epoch as ended_epoch,
        {{ epoch_to_timestamptz('event_epoch') }} as ended_at,
        cast(null as {{ dbt.type_string() }}) as terminal_event,
        false as is_closed_by_restart,
        false as is_exit_missing,
        cast(null as {{ dbt.type_string() }}) as caller_number,
        data1 as did,
        cast(null as bigint) as position_at_entry,
        'join_empty' as outcome,
        false as is_short_abandon,
        cast(null as {{ dbt.type_string() }}) as agent,
        cast(null as {{ dbt.type_string() }}) as agent_key,
        cast(null as bigint) as wait_seconds,
        cast(null as bigint) as talk_seconds,
        cast(null as bigint) as wrapup_seconds,
        cast(0 as bigint) as ring_no_answer_count,
        cast(0 as bigint) as ring_canceled_count,
        cast(0 as bigint) as ring_attempts,
        false as transferred,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from refused_dids

),

final as (

    select
        measured.anchor_event_id as visit_id,
        measured.pbx,
        measured.boot_no,
        measured.callid,
        measured.queue,
        measured.visit_no,
        measured.visit_no = 0 as is_orphan,
        false as is_refused_at_join,
        measured.first_seq as first_event_seq,
        measured.scope_last_seq as last_event_seq,
        measured.entered_epoch,
        {{ epoch_to_timestamptz('measured.entered_epoch') }} as entered_at,
        measured.connect_epoch as connected_epoch,
        {{ epoch_to_timestamptz('measured.connect_epoch') }} as connected_at,
        measured.ended_epoch,
        {{ epoch_to_timestamptz('measured.ended_epoch') }} as ended_at,
        measured.terminal_event,
        measured.is_closed_by_restart,
        measured.is_exit_missing,
        measured.caller_number,
        visit_dids.did,
        {{ safe_to_count('measured.position_text') }} as position_at_entry,
        measured.outcome,
        coalesce(measured.outcome = 'abandoned' and measured.wait_seconds <= {{ var('short_abandon_seconds') }}, false)
            as is_short_abandon,
        measured.answering_agent as agent,
        {{ agent_key('measured.answering_agent') }} as agent_key,
        measured.wait_seconds,
        measured.talk_seconds,
        first_wrapups.wrapup_seconds,
        measured.ring_no_answer_count,
        measured.ring_canceled_count,
        measured.ring_no_answer_count + measured.ring_canceled_count
            + case when measured.connect_seq is not null then 1 else 0 end as ring_attempts,
        coalesce(measured.terminal_event in ('TRANSFER', 'BLINDTRANSFER', 'ATTENDEDTRANSFER'), false) as transferred,
        {{ run_started_at_literal() }} as dbt_refreshed_at
    from measured
    left join visit_dids
        on measured.pbx = visit_dids.pbx
        and measured.first_seq = visit_dids.first_seq
    left join first_wrapups
        on measured.anchor_event_id = first_wrapups.visit_anchor

)

select * from final
union all
select * from refused
