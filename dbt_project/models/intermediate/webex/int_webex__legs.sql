{#
  One row per Webex CDR record, with the journey (customer call) it belongs to and its place in
  it. Journeys are the connected components of the records over the link keys of
  int_webex__leg_links (webex.md §1.9), found set-based by label propagation: every record
  starts labelled with its own report_id, and each pass gives every link key the smallest label
  of its records, then every record the smallest label of its keys, and shortcuts (below).
  The passes a journey needs grow with the logarithm of its length, not with its length:
  var('webex_journey_link_passes') passes (default 8) cover any real journey (AA, queues,
  offers, transfers and consults are 1-3 links apart; a chain of twelve consult transfers is
  whole after 4 passes, one of 200 records after at most 9, simulated); the data test
  assert_webex_journeys_are_closed fails if two linked records still differ.
  Passes after the first run on the few keys still shared by two labels, not on every record
  (1M records: 11 s instead of 17 s, python -m bench.webex_journeys).

  Link keys, prefixed by kind so values of different fields never meet:
    c: Correlation ID  - the legs of one call session
    i: Interaction ID  - calls tied by a service interaction (consult + transfer)
    n: Network call ID - both halves of one leg, the AA -> queue redirect of one PSTN dialog
    l: a Local call ID - the record's own, and the ones it points to: Remote call ID (its peer
       half), Related call ID (the call its service created), Transfer related call ID (the
       other call of a transfer). Ids are reused over time, so a pointer meets the record owning
       the id nearest in time (macros/webex.sql: webex_call_id_link_keys).

  hop_type: auto_attendant | virtual_agent | queue | service | caller (the person who placed an
  internal or outbound call) | consult (an agent's own call to consult or transfer, inside a
  journey) | consulted (the person who answered a consult that did not become a transfer: the
  caller never talked to them) | agent (a person leg that answered) | agent_offer (a person
  leg that rang and was not answered: no answer, busy, answered elsewhere).
#}

{% set passes = var('webex_journey_link_passes', 8) %}

with

-- read twice (narrow for linking, wide for the result) but never copied whole: materializing
-- the wide records costs more than reading the staging view again
cdr as not materialized (

    select * from {{ ref('stg_webex__cdr') }}

),

-- Linking and placing work on a narrow copy of the records (numbered, so the passes below move
-- integers, not text ids); the wide record joins back once, at the end.
nodes as materialized (

    select
        report_id,
        row_number() over (order by {{ binary_text('report_id') }}) as node,
        started_at,
        direction,
        leg_role,
        correlation_id,
        interaction_id,
        network_call_id,
        local_call_id,
        remote_call_id,
        related_call_id,
        transfer_related_call_id,
        transferred_at,
        user_uuid,
        redirect_reason,
        redirecting_party_uuid,
        related_reason,
        is_answered,
        is_answered_elsewhere
    from cdr

),

all_links as (

    select node, 'c:' || correlation_id as link_key from nodes where correlation_id is not null
    union all
    select node, 'i:' || interaction_id from nodes where interaction_id is not null
    union all
    select node, 'n:' || network_call_id from nodes where network_call_id is not null
    union all
    select record, link_key from ({{ webex_call_id_link_keys('nodes', 'node') }}) as call_id_links

),

distinct_links as materialized (

    -- a record pointing at its own local call id (or two fields with one value) links once
    select distinct node, link_key from all_links

),

shared_keys as (

    -- a key only one record holds links nothing (a PSTN far end, a pointer to a record not
    -- loaded); a shared key is numbered by the smallest record holding it
    select link_key, min(node) as key_no
    from distinct_links
    group by link_key
    having count(*) > 1

),

links as materialized (

    select distinct_links.node, shared_keys.key_no
    from distinct_links
    inner join shared_keys
        on distinct_links.link_key = shared_keys.link_key

),

-- pass 1: a key's smallest record is its number already
labels_1 as materialized (

    select node, min(key_no) as label
    from links
    group by node

),

-- Most journeys are whole after pass 1 (one call session's key reaches all its records). The
-- passes that follow only need the keys still shared by two labels: the graph of those keys and
-- labels is small, so they run there, and each label's result is then applied to its records.
key_labels as materialized (

    select distinct links.key_no, labels_1.label
    from links
    inner join labels_1
        on links.node = labels_1.node

),

cross_edges as materialized (

    select key_no, label
    from key_labels
    where key_no in (select key_no from key_labels group by key_no having count(*) > 1)

),

relabel_1 as materialized (

    select distinct label, label as new_label
    from cross_edges

),

-- Each further pass on that graph (hook and shortcut, as in Shiloach-Vishkin): every label takes
-- the smallest label its keys reach; the label it pointed to takes the smallest its pointers
-- found (so a whole group moves at once, not one link per pass); then every label jumps to what
-- its new label points to. Labels are only ever replaced by smaller labels of the same
-- component, and a chain of n records is whole after about log2(n) passes, not n (twelve
-- consult transfers in a row: 4 passes).
{% for n in range(2, passes + 1) %}
key_relabel_{{ n }} as (

    select cross_edges.key_no, min(relabel_{{ n - 1 }}.new_label) as new_label
    from cross_edges
    inner join relabel_{{ n - 1 }}
        on cross_edges.label = relabel_{{ n - 1 }}.label
    group by cross_edges.key_no

),

reached_{{ n }} as materialized (

    select cross_edges.label, min(key_relabel_{{ n }}.new_label) as new_label
    from cross_edges
    inner join key_relabel_{{ n }}
        on cross_edges.key_no = key_relabel_{{ n }}.key_no
    group by cross_edges.label

),

hooked_{{ n }} as materialized (

    select label, min(new_label) as new_label
    from (
        select label, new_label from reached_{{ n }}
        union all
        select relabel_{{ n - 1 }}.new_label as label, reached_{{ n }}.new_label
        from relabel_{{ n - 1 }}
        inner join reached_{{ n }}
            on relabel_{{ n - 1 }}.label = reached_{{ n }}.label
    ) as proposals
    group by label

),

relabel_{{ n }} as materialized (

    select hooked.label, coalesce(target.new_label, hooked.new_label) as new_label
    from hooked_{{ n }} as hooked
    left join hooked_{{ n }} as target
        on hooked.new_label = target.label

),
{% endfor %}

final_labels as (

    select labels_1.node, coalesce(relabel_{{ passes }}.new_label, labels_1.label) as label
    from labels_1
    left join relabel_{{ passes }}
        on labels_1.label = relabel_{{ passes }}.label

),

journey_nodes as materialized (

    select
        nodes.*,
        -- records without any shared key are journeys of their own
        coalesce(final_labels.label, nodes.node) as journey_label,
        row_number() over (
            partition by coalesce(final_labels.label, nodes.node)
            order by
                -- by the second: two records' clocks differ by a fraction of one (a callee's
                -- record stamped 30 ms before its caller's, an agent offer before its queue's)
                {{ dbt.date_trunc('second', 'nodes.started_at') }},
                -- the originating half of a leg comes before its terminating half
                case when nodes.direction = 'ORIGINATING' then 0 else 1 end,
                case nodes.leg_role
                    when 'auto_attendant' then 1 when 'virtual_agent' then 2 when 'queue' then 3
                    when 'person' then 4 else 5
                end,
                nodes.started_at,
                {{ binary_text('nodes.report_id') }}
        ) as leg_seq
    from nodes
    left join final_labels
        on nodes.node = final_labels.node

),

journey_ids as (

    -- named after the call session it starts with (or the record, when it has none)
    select journey_label, coalesce(correlation_id, report_id) as journey_id
    from journey_nodes
    where leg_seq = 1

),

queue_services as (

    select distinct journey_label, user_uuid
    from journey_nodes
    where leg_role = 'queue' and user_uuid is not null

),

consult_calls as (

    -- an agent's own call inside a journey; it became a transfer when it carries the transfer link
    select
        journey_label,
        local_call_id,
        (transfer_related_call_id is not null or transferred_at is not null) as is_transferred_consult
    from journey_nodes
    where leg_role = 'person' and direction = 'ORIGINATING' and leg_seq > 1 and local_call_id is not null

),

placed as (

    select
        journey_ids.journey_id,
        journey_nodes.report_id,
        journey_nodes.node,
        journey_nodes.journey_label,
        journey_nodes.leg_seq,
        (
            journey_nodes.leg_role = 'person'
            and (
                coalesce(journey_nodes.redirect_reason, '') in {{ webex_queue_redirect_reasons() }}
                or queue_services.user_uuid is not null
            )
        ) as is_queue_offer,
        queue_services.user_uuid as offering_queue_uuid,
        consult_calls.local_call_id is not null as is_consult_target,
        case
            when journey_nodes.leg_role <> 'person' then journey_nodes.leg_role
            when journey_nodes.direction = 'ORIGINATING' and journey_nodes.leg_seq = 1 then 'caller'
            when journey_nodes.direction = 'ORIGINATING' then 'consult'
            -- answered a consult that was not turned into a transfer: never talked to the caller
            when journey_nodes.is_answered and consult_calls.is_transferred_consult = false then 'consulted'
            when journey_nodes.is_answered and not journey_nodes.is_answered_elsewhere then 'agent'
            else 'agent_offer'
        end as hop_type,
        (
            journey_nodes.transferred_at is not null
            or journey_nodes.transfer_related_call_id is not null
            or coalesce(journey_nodes.related_reason, '') in ('Deflection', 'ConsultativeTransfer')
        ) as is_transferring
    from journey_nodes
    inner join journey_ids
        on journey_nodes.journey_label = journey_ids.journey_label
    left join queue_services
        on journey_nodes.journey_label = queue_services.journey_label
        and journey_nodes.redirecting_party_uuid = queue_services.user_uuid
    left join consult_calls
        on journey_nodes.journey_label = consult_calls.journey_label
        and journey_nodes.direction = 'TERMINATING'
        and journey_nodes.remote_call_id = consult_calls.local_call_id

),

final as (

    select
        placed.journey_id,
        cdr.*,
        placed.node,
        placed.journey_label,
        placed.leg_seq,
        placed.is_queue_offer,
        placed.offering_queue_uuid,
        placed.is_consult_target,
        placed.hop_type,
        placed.is_transferring
    from cdr
    inner join placed
        on cdr.report_id = placed.report_id

)

select * from final
