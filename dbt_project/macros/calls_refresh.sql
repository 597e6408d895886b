{#
  Refresh plan of marts.fct_calls (macros/incremental.sql explains the scheme; here the region
  is a set of calls, not of boots).

  An Asterisk call is the visits and CDR rows that share its key (pbx, linkedid or uniqueid), so
  a run rebuilds, per PBX, the calls of
  * visits rewritten since this table's newest row (fct_queue_visits.dbt_refreshed_at), under
    today's CDR mapping and under their own call id (the call they made on their own before a
    CDR row joined them to another);
  * CDR rows loaded after the newest this table has seen (max cdr_loaded_at), by their call key
    and by their uniqueid (likewise);
  * a PBX no longer upstream at all (every call of it goes).
  A key in the plan is recomputed from everything upstream that shares it, so a key planned
  without need costs time, never correctness. Webex rows are rewritten in full on every run
  (journeys are rebuilt in full upstream). When this table lost its newest rows, the watermark
  only moves back and the plan only grows.
#}
{# The call of an Asterisk CDR row: its linkedid when the PBX writes one, else its uniqueid.
   fct_calls and its refresh plan must key calls alike, hence one definition. #}
{% macro asterisk_cdr_call_key(cdr) -%}
    coalesce({{ cdr }}.linked_id, {{ cdr }}.unique_id)
{%- endmacro %}


{# The call each uniqueid belongs to (`cdr`: rows with pbx, unique_id and call_key). #}
{% macro asterisk_uniqueid_calls(cdr) -%}
    select pbx, unique_id, min(call_key) as call_key
    from {{ cdr }}
    group by pbx, unique_id
{%- endmacro %}


{% macro calls_plan_sql() %}
with

-- each upstream is compared with its own clock: visits by the dbt run that wrote them, CDR rows
-- by the load that brought them (the newest CDR load this table has seen)
watermark as (

    select
        coalesce(max(dbt_refreshed_at), cast('1900-01-01 00:00:00' as timestamp)) as refreshed_to,
        max(cdr_loaded_at) as cdr_loaded_to
    from {{ this }}

),

cdr as (

    select pbx, unique_id, {{ asterisk_cdr_call_key('cdr') }} as call_key, loaded_at
    from {{ ref('stg_asterisk__cdr') }} as cdr
    where unique_id is not null

),

uniqueid_calls as (

    {{ asterisk_uniqueid_calls('cdr') }}

),

changed_visits as (

    select visits.pbx, visits.call_id
    from {{ ref('fct_queue_visits') }} as visits
    cross join watermark
    where visits.platform = 'asterisk' and visits.dbt_refreshed_at > watermark.refreshed_to

),

changed_cdr as (

    select cdr.pbx, cdr.unique_id, cdr.call_key
    from cdr
    cross join watermark
    where cdr.loaded_at is null or watermark.cdr_loaded_to is null or cdr.loaded_at > watermark.cdr_loaded_to

),

upstream_pbx as (

    select distinct pbx from {{ ref('fct_queue_visits') }} where platform = 'asterisk'
    union
    select distinct pbx from cdr

)

select changed_visits.pbx, coalesce(uniqueid_calls.call_key, changed_visits.call_id) as call_key
from changed_visits
left join uniqueid_calls
    on changed_visits.pbx = uniqueid_calls.pbx
    and changed_visits.call_id = uniqueid_calls.unique_id

union

select pbx, call_id as call_key from changed_visits

union

select pbx, call_key from changed_cdr

union

select pbx, unique_id as call_key from changed_cdr

union

select own.pbx, own.source_call_id as call_key
from {{ this }} as own
where own.platform = 'asterisk'
    and not exists (select 1 from upstream_pbx where upstream_pbx.pbx = own.pbx)
{% endmacro %}


{# Pre-hook of fct_calls: write the plan, delete the planned Asterisk calls and every Webex row. #}
{% macro calls_pre_hook() %}
    {%- if incremental_ready() -%}
        {{ create_plan_table('fct_calls__plan', calls_plan_sql()) }};
        delete from {{ this }} as target
        where target.platform = 'webex'
            or exists (
                select 1 from {{ plan_relation('fct_calls__plan') }} as plan
                where plan.pbx = target.pbx and plan.call_key = target.source_call_id
            )
    {%- endif -%}
{% endmacro %}
