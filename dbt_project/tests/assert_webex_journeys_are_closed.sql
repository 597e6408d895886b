{{ config(meta={
    'description': "Every Webex record belongs to exactly one journey, and no link key is shared by records of two journeys.",
    'dagster': {'ref': {'name': 'int_webex__legs'}}}) }}
-- Every Webex record belongs to exactly one journey, and linked records to the same one:
-- * each staged record appears once in int_webex__legs, with a journey;
-- * no link key (webex.md §1.9: correlation, interaction, network, and the local/remote/
--   related/transfer-related call id keys of macros/webex.sql: webex_call_id_link_keys) is
--   shared by records of two journeys - if one were, the label propagation needed more passes
--   (var webex_journey_link_passes).
with

legs as (

    select * from {{ ref('int_webex__legs') }}

),

staged as (

    select report_id from {{ ref('stg_webex__cdr') }}

),

placed as (

    select staged.report_id, count(legs.report_id) as placements, count(legs.journey_id) as journeys
    from staged
    left join legs
        on staged.report_id = legs.report_id
    group by staged.report_id

),

keys as (

    select journey_id, 'c:' || correlation_id as link_key from legs where correlation_id is not null
    union all
    select journey_id, 'i:' || interaction_id from legs where interaction_id is not null
    union all
    select journey_id, 'n:' || network_call_id from legs where network_call_id is not null
    union all
    select legs.journey_id, call_id_links.link_key
    from ({{ webex_call_id_link_keys('legs', 'report_id') }}) as call_id_links
    inner join legs
        on call_id_links.record = legs.report_id

),

split_keys as (

    select link_key, count(distinct journey_id) as journeys
    from keys
    group by link_key
    having count(distinct journey_id) > 1

)

select 'record not in exactly one journey' as problem, report_id as item
from placed
where placements <> 1 or journeys <> 1

union all

select 'link key split across journeys' as problem, link_key as item
from split_keys
