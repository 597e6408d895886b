{#
  One row per Webex CDR record, with the journey (customer call) it belongs to and its place in
  it. Journeys are the connected components of the records over the link keys of
  int_webex__leg_links (webex.md §1.9), found set-based by label propagation: every record
  starts labelled with its own report_id, and each pass gives every link key the smallest label
  of its records, then every record the smallest label of its keys. After n passes, records up
  to n links apart share a label. var('webex_journey_link_passes') passes (default 8) cover any
  real journey (AA, queues, offers, transfers and consults are 1-3 links apart); the
  data test assert_webex_journeys_are_closed fails if two linked records still differ.

  Link keys, prefixed by kind so values of different fields never meet:
    c: Correlation ID  - the legs of one call session
    i: Interaction ID  - calls tied by a service interaction (consult + transfer)
    n: Network call ID - both halves of one leg, the AA -> queue redirect of one PSTN dialog
    l: a Local call ID - the record's own, and the ones it points to: Remote call ID (its peer
       half), Related call ID (the call its service created), Transfer related call ID (the
       other call of a transfer). A pointer and its target then share the key 'l:<id>'.

  hop_type: auto_attendant | virtual_agent | queue | service | caller (the person who placed an
  internal or outbound call) | consult (an agent's own call to consult or transfer, inside a
  journey) | consulted (the person who answered a consult that did not become a transfer: the
  caller never talked to them) | agent (a person leg that answered) | agent_offer (a person
  leg that rang and was not answered: no answer, busy, answered elsewhere).
#}

{% set passes = var('webex_journey_link_passes', 8) %}

with

cdr as (

    select * from {{ ref('stg_webex__cdr') }}

),

-- records and link keys are numbered, so the passes below move integers, not text ids
nodes as materialized (

    -- narrow: what linking, ordering and the journey-level lookups below need
    select
        report_id,
        row_number() over (order by report_id) as node,
        started_at,
        direction,
        leg_role,
        correlation_id,
        user_uuid,
        local_call_id,
        transfer_related_call_id,
        transferred_at
    from cdr

),

link_fields as (

    select nodes.node, cdr.correlation_id, cdr.interaction_id, cdr.network_call_id,
        cdr.local_call_id, cdr.remote_call_id, cdr.related_call_id, cdr.transfer_related_call_id
    from cdr
    inner join nodes
        on cdr.report_id = nodes.report_id

),

all_links as (

    select node, 'c:' || correlation_id as link_key from link_fields where correlation_id is not null
    union all
    select node, 'i:' || interaction_id from link_fields where interaction_id is not null
    union all
    select node, 'n:' || network_call_id from link_fields where network_call_id is not null
    union all
    select node, 'l:' || local_call_id from link_fields where local_call_id is not null
    union all
    select node, 'l:' || remote_call_id from link_fields where remote_call_id is not null
    union all
    select node, 'l:' || related_call_id from link_fields where related_call_id is not null
    union all
    select node, 'l:' || transfer_related_call_id from link_fields where transfer_related_call_id is not null

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
labels_1 as (

    select node, min(key_no) as label
    from links
    group by node

),

{% for n in range(2, passes + 1) %}
key_labels_{{ n }} as (

    select links.key_no, min(labels_{{ n - 1 }}.label) as label
    from links
    inner join labels_{{ n - 1 }}
        on links.node = labels_{{ n - 1 }}.node
    group by links.key_no

),

labels_{{ n }} as (

    select links.node, min(key_labels_{{ n }}.label) as label
    from links
    inner join key_labels_{{ n }}
        on links.key_no = key_labels_{{ n }}.key_no
    group by links.node

),
{% endfor %}

journey_nodes as materialized (

    select
        nodes.*,
        -- records without any shared key are journeys of their own
        coalesce(labels_{{ passes }}.label, nodes.node) as journey_label,
        row_number() over (
            partition by coalesce(labels_{{ passes }}.label, nodes.node)
            order by
                nodes.started_at,
                -- the originating half of a leg comes before its terminating half
                case when nodes.direction = 'ORIGINATING' then 0 else 1 end,
                case nodes.leg_role
                    when 'auto_attendant' then 1 when 'virtual_agent' then 2 when 'queue' then 3
                    when 'person' then 4 else 5
                end,
                nodes.report_id
        ) as leg_seq
    from nodes
    left join labels_{{ passes }}
        on nodes.node = labels_{{ passes }}.node

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

ordered as (

    select cdr.*, journey_nodes.node, journey_nodes.journey_label, journey_nodes.leg_seq
    from cdr
    inner join journey_nodes
        on cdr.report_id = journey_nodes.report_id

),

final as (

    select
        journey_ids.journey_id,
        ordered.*,
        (
            ordered.leg_role = 'person'
            and (
                coalesce(ordered.redirect_reason, '') in {{ webex_queue_redirect_reasons() }}
                or queue_services.user_uuid is not null
            )
        ) as is_queue_offer,
        queue_services.user_uuid as offering_queue_uuid,
        consult_calls.local_call_id is not null as is_consult_target,
        case
            when ordered.leg_role <> 'person' then ordered.leg_role
            when ordered.direction = 'ORIGINATING' and ordered.leg_seq = 1 then 'caller'
            when ordered.direction = 'ORIGINATING' then 'consult'
            -- answered a consult that was not turned into a transfer: never talked to the caller
            when ordered.is_answered and consult_calls.is_transferred_consult = false then 'consulted'
            when ordered.is_answered and not ordered.is_answered_elsewhere then 'agent'
            else 'agent_offer'
        end as hop_type,
        (
            ordered.transferred_at is not null
            or ordered.transfer_related_call_id is not null
            or coalesce(ordered.related_reason, '') in ('Deflection', 'ConsultativeTransfer')
        ) as is_transferring
    from ordered
    inner join journey_ids
        on ordered.journey_label = journey_ids.journey_label
    left join queue_services
        on ordered.journey_label = queue_services.journey_label
        and ordered.redirecting_party_uuid = queue_services.user_uuid
    left join consult_calls
        on ordered.journey_label = consult_calls.journey_label
        and ordered.direction = 'TERMINATING'
        and ordered.remote_call_id = consult_calls.local_call_id

)

select * from final
