{#
  Interface -> member name, per PBX, over time.

  ADDMEMBER / REMOVEMEMBER / PENALTY log the member's INTERFACE (SIP/1001, PJSIP/400,
  Local/2004@from-queue/n) while CONNECT / COMPLETE* / RINGNOANSWER / PAUSE log its NAME.
  Evidence, for each ADDMEMBER (first match wins):
    1. self                 - the ADDMEMBER already carries a name, not Tech/resource
                              (log_membername_as_agent=yes; macros/asterisk.sql: asterisk_is_interface)
    2. same_second_unpause  - the nearest later UNPAUSEALL/UNPAUSE line of the same second (same
                              queue, or queue NONE) that carries a name, not an interface, names
                              the member (IssabelPBX logs ADDMEMBER SIP/1001 then UNPAUSEALL
                              Sathish and UNPAUSE Sathish; Asterisk 11 and older log UNPAUSEALL
                              SIP/1001, which names no one). A PAUSE/PAUSEALL is not evidence:
                              no login sequence writes one first, while another agent's pause in
                              the same second is common on a busy PBX that logs ADDMEMBER alone
                              (stock Asterisk), and would give the interface that agent's name
    3. carried_forward      - the name of that interface's previous evidence
    4. carried_back         - the name of that interface's first evidence, for ADDMEMBERs before it
    5. interface            - no evidence at all: the interface is its own name
  Consecutive ADDMEMBERs resolving to the same spelling form one mapping row; the first row of
  an interface also covers the events before it. Case changes (karthik -> Karthik) give new rows
  but the same member_key (lower-cased name), so one agent is never split by case.
#}

with

events as (

    select * from {{ ref('int_asterisk__queue_events') }}
    where event in ('ADDMEMBER', 'UNPAUSE', 'UNPAUSEALL')
        and agent is not null

),

adds as (

    select * from events
    where event = 'ADDMEMBER'

),

name_lines as (

    select pbx, event_epoch, event_seq, queue, agent as member_name
    from events
    where event <> 'ADDMEMBER'
        and not {{ asterisk_is_interface('agent') }}

),

evidence as (

    select
        adds.event_id as add_event_id,
        name_lines.member_name,
        row_number() over (partition by adds.event_id order by name_lines.event_seq) as evidence_rank
    from adds
    inner join name_lines
        on adds.pbx = name_lines.pbx
        and adds.event_epoch = name_lines.event_epoch
        and name_lines.event_seq > adds.event_seq
        and (name_lines.queue is null or name_lines.queue = adds.queue)
    where {{ asterisk_is_interface('adds.agent') }}

),

direct as (

    select
        adds.pbx,
        adds.agent as interface,
        adds.event_seq,
        adds.event_epoch,
        case
            when not {{ asterisk_is_interface('adds.agent') }} then adds.agent
            else evidence.member_name
        end as direct_name,
        case
            when not {{ asterisk_is_interface('adds.agent') }} then 'self'
            when evidence.member_name is not null then 'same_second_unpause'
        end as direct_source
    from adds
    left join evidence
        on adds.event_id = evidence.add_event_id
        and evidence.evidence_rank = 1

),

grouped as (

    select
        direct.*,
        count(direct_name) over (
            partition by pbx, interface
            order by event_seq
            rows between unbounded preceding and current row
        ) as evidence_group
    from direct

),

filled as (

    select
        grouped.*,
        max(direct_name) over (partition by pbx, interface, evidence_group) as carried_name,
        max(case when evidence_group = 1 then direct_name end) over (partition by pbx, interface) as first_name
    from grouped

),

resolved as (

    select
        pbx,
        interface,
        event_seq,
        event_epoch,
        coalesce(direct_name, carried_name, first_name, interface) as member_name,
        coalesce(
            direct_source,
            case
                when carried_name is not null then 'carried_forward'
                when first_name is not null then 'carried_back'
                else 'interface'
            end
        ) as mapping_source
    from filled

),

islands as (

    select
        flagged.*,
        count(case when is_new_name = 1 then 1 end) over (
            partition by pbx, interface
            order by event_seq
            rows between unbounded preceding and current row
        ) as mapping_no
    from (
        select
            resolved.*,
            case
                when lag(member_name) over (partition by pbx, interface order by event_seq) = member_name then 0
                else 1
            end as is_new_name
        from resolved
    ) as flagged

),

collapsed as (

    select
        pbx,
        interface,
        mapping_no,
        member_name,
        min(event_seq) as valid_from_seq,
        min(event_epoch) as valid_from_epoch,
        count(*) as add_member_count,
        count(case when mapping_source in ('self', 'same_second_unpause') then 1 end) as evidence_count,
        -- strongest evidence seen in the row: self > same_second_unpause > carried_* > interface
        min(
            case mapping_source
                when 'self' then 1
                when 'same_second_unpause' then 2
                when 'carried_forward' then 3
                when 'carried_back' then 4
                else 5
            end
        ) as source_rank
    from islands
    group by pbx, interface, mapping_no, member_name

),

final as (

    select
        {{ hash_key(['pbx', 'interface', 'valid_from_seq']) }} as mapping_id,
        pbx,
        interface,
        mapping_no,
        member_name,
        {{ agent_key('member_name') }} as member_key,
        case source_rank
            when 1 then 'self'
            when 2 then 'same_second_unpause'
            when 3 then 'carried_forward'
            when 4 then 'carried_back'
            else 'interface'
        end as mapping_source,
        valid_from_seq,
        lead(valid_from_seq) over (partition by pbx, interface order by mapping_no) as valid_to_seq,
        -- the first mapping of an interface also covers its events before the first ADDMEMBER
        case when mapping_no = 1 then 0 else valid_from_seq end as lookup_from_seq,
        {{ epoch_to_timestamptz('valid_from_epoch') }} as valid_from_at,
        {{ epoch_to_timestamptz('lead(valid_from_epoch) over (partition by pbx, interface order by mapping_no)') }}
            as valid_to_at,
        add_member_count,
        evidence_count
    from collapsed

)

select * from final
