{#
  One row per customer call on any platform.

  * Webex: one row per journey (int_webex__journeys): every CDR record linked into one call.
  * Asterisk: one row per call of the CDR (Master.csv rows grouped by linkedid when the PBX
    writes it, else by the caller channel's uniqueid) and per queue_log call that has no CDR
    row yet (cdr-csv writes a row when the leg hangs up). Queue figures come from
    fct_queue_visits (visits whose call id is the uniqueid of one of the call's CDR rows).
    Numbers are E.164 and classified by phonenumbers on both platforms (Asterisk's through
    stg_asterisk__phone_numbers); Master.csv holds neither hold time nor recording results
    (null), and ring_seconds is the CDR's duration − billsec of answered rows.

  Incremental: a run rebuilds the Asterisk calls whose visits or CDR rows changed since this
  table's newest row (macros/calls_refresh.sql: calls_plan_sql) and rewrites every Webex row
  (journeys are rebuilt in full upstream); `dbt build --full-refresh` rebuilds all.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='call_id',
    on_schema_change='append_new_columns',
    meta={'rows_depend_on_vars': ['reporting_timezone']},
    pre_hook="{{ calls_pre_hook() }}",
) }}

{% set incremental = incremental_ready() %}

with

{% if incremental %}
plan as (

    select pbx, call_key from {{ plan_relation('fct_calls__plan') }}

),
{% endif %}

webex as (

    select
        journey_id as call_id,
        'webex' as platform,
        cast(null as {{ dbt.type_string() }}) as pbx,
        journey_id as source_call_id,
        direction,
        started_at,
        ended_at,
        caller_number,
        callee_number,
        call_type,
        country,
        first_queue,
        final_agent,
        final_agent_key,
        outcome,
        route,
        ring_seconds,
        auto_attendant_seconds,
        queue_seconds,
        virtual_agent_seconds,
        talk_seconds,
        hold_seconds,
        recorded,
        transferred,
        queue_count,
        cast(null as {{ type_timestamptz() }}) as cdr_loaded_at
    from {{ ref('int_webex__journeys') }}

),

cdr as (

    select
        cdr.*,
        {{ asterisk_cdr_call_key('cdr') }} as call_key
    from {{ ref('stg_asterisk__cdr') }} as cdr
    where unique_id is not null

),

-- the CDR rows of the calls being built (every row maps uniqueids to calls, below)
planned_cdr as (

    select cdr.*
    from cdr
    {% if incremental -%}
    -- (joins, not exists: the plan's keys are distinct, and DuckDB would first gather every
    -- distinct outer key to decorrelate an exists - 2.3M of them on the benchmark)
    inner join plan
        on cdr.pbx = plan.pbx
        and cdr.call_key = plan.call_key
    {%- endif %}

),

cdr_first as (

    select pbx, call_key, source_number, destination
    from (
        select
            pbx, call_key, source_number, destination,
            row_number() over (partition by pbx, call_key order by started_at, {{ binary_text('cdr_id') }}) as row_rank
        from planned_cdr
    ) as ranked
    where row_rank = 1

),

cdr_calls as (

    select
        pbx,
        call_key,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        cast(sum(case when is_answered then ring_seconds end) as bigint) as ring_seconds,
        cast(sum(case when is_answered and destination_channel is not null then billable_seconds end) as bigint) as talk_seconds,
        max(case when is_answered and destination_channel is not null then 1 else 0 end) as any_answered,
        max(case when disposition in ('FAILED', 'CONGESTION') then 1 else 0 end) as any_failed,
        max(loaded_at) as cdr_loaded_at
    from planned_cdr
    group by pbx, call_key

),

uniqueid_calls as (

    {{ asterisk_uniqueid_calls('cdr') }}

),

asterisk_visits as (

    select
        visits.pbx,
        visits.visit_id,
        visits.queue,
        visits.entered_at,
        visits.connected_at,
        visits.ended_at,
        visits.caller_number,
        visits.did,
        visits.outcome,
        visits.agent,
        visits.agent_key,
        visits.wait_seconds,
        visits.talk_seconds,
        visits.transferred,
        coalesce(uniqueid_calls.call_key, visits.call_id) as call_key
    from {{ ref('fct_queue_visits') }} as visits
    left join uniqueid_calls
        on visits.pbx = uniqueid_calls.pbx
        and visits.call_id = uniqueid_calls.unique_id
    {% if incremental -%}
    inner join plan
        on visits.pbx = plan.pbx
        and coalesce(uniqueid_calls.call_key, visits.call_id) = plan.call_key
    {% endif -%}
    where visits.platform = 'asterisk'

),

-- Nearly every call has one visit, whose figures are the call's own: only calls with several
-- are ranked and grouped (three window sorts and a 14-aggregate grouping over every visit were
-- most of this model's time). pbx and call_key are never null here (tests on
-- fct_queue_visits), so equality joins hold.
call_visit_counts as (

    select pbx, call_key, count(*) as visit_count
    from asterisk_visits
    group by pbx, call_key

),

single_visit_calls as (

    select
        asterisk_visits.pbx,
        asterisk_visits.call_key,
        asterisk_visits.entered_at,
        asterisk_visits.ended_at,
        case when asterisk_visits.ended_at is null then 1 else 0 end as unended,
        asterisk_visits.wait_seconds as queue_seconds,
        asterisk_visits.talk_seconds,
        1 as queue_count,
        case when asterisk_visits.transferred then 1 else 0 end as any_transfer,
        asterisk_visits.queue as first_queue,
        asterisk_visits.caller_number,
        asterisk_visits.did,
        asterisk_visits.outcome as last_outcome,
        case when asterisk_visits.outcome = 'answered' then asterisk_visits.agent end as final_agent,
        case when asterisk_visits.outcome = 'answered' then asterisk_visits.agent_key end as final_agent_key,
        case when asterisk_visits.outcome = 'answered' then 1 else 0 end as any_answered
    from asterisk_visits
    inner join call_visit_counts
        on asterisk_visits.pbx = call_visit_counts.pbx
        and asterisk_visits.call_key = call_visit_counts.call_key
    where call_visit_counts.visit_count = 1

),

multi_visit_ranks as (

    select
        asterisk_visits.*,
        row_number() over (
            partition by asterisk_visits.pbx, asterisk_visits.call_key
            order by asterisk_visits.entered_at, {{ binary_text('asterisk_visits.visit_id') }}
        ) as first_rank,
        row_number() over (
            partition by asterisk_visits.pbx, asterisk_visits.call_key
            order by asterisk_visits.entered_at desc, {{ binary_text('asterisk_visits.visit_id') }} desc
        ) as last_rank,
        -- the answered visit whose agent took the call last; a visit answered without its
        -- CONNECT line took it at its end less its talk time (explicit NULL order: DuckDB and
        -- Postgres put NULLs at opposite ends of a descending sort)
        row_number() over (
            partition by asterisk_visits.pbx, asterisk_visits.call_key
            order by case when asterisk_visits.outcome = 'answered' then 0 else 1 end,
                coalesce(
                    asterisk_visits.connected_at,
                    {{ dbt.dateadd('second', '-asterisk_visits.talk_seconds', 'asterisk_visits.ended_at') }},
                    asterisk_visits.ended_at,
                    asterisk_visits.entered_at
                ) desc nulls last,
                {{ binary_text('asterisk_visits.visit_id') }} desc
        ) as agent_rank
    from asterisk_visits
    inner join call_visit_counts
        on asterisk_visits.pbx = call_visit_counts.pbx
        and asterisk_visits.call_key = call_visit_counts.call_key
    where call_visit_counts.visit_count > 1

),

multi_visit_calls as (

    select
        pbx,
        call_key,
        min(entered_at) as entered_at,
        max(ended_at) as ended_at,
        count(case when ended_at is null then 1 end) as unended,
        sum(wait_seconds) as queue_seconds,
        sum(talk_seconds) as talk_seconds,
        count(*) as queue_count,
        max(case when transferred then 1 else 0 end) as any_transfer,
        max(case when first_rank = 1 then queue end) as first_queue,
        max(case when first_rank = 1 then caller_number end) as caller_number,
        max(case when first_rank = 1 then did end) as did,
        max(case when last_rank = 1 then outcome end) as last_outcome,
        max(case when agent_rank = 1 and outcome = 'answered' then agent end) as final_agent,
        max(case when agent_rank = 1 and outcome = 'answered' then agent_key end) as final_agent_key,
        max(case when outcome = 'answered' then 1 else 0 end) as any_answered
    from multi_visit_ranks
    group by pbx, call_key

),

visit_calls as (

    select * from single_visit_calls
    union all
    select * from multi_visit_calls

),

asterisk_keys as (

    select pbx, call_key from cdr_calls
    union
    select pbx, call_key from visit_calls

),

asterisk_joined as (

    select
        asterisk_keys.pbx,
        asterisk_keys.call_key,
        cdr_calls.started_at as cdr_started_at,
        cdr_calls.ended_at as cdr_ended_at,
        cdr_calls.ring_seconds,
        cdr_calls.talk_seconds as cdr_talk_seconds,
        cdr_calls.any_answered as cdr_answered,
        cdr_calls.any_failed,
        cdr_calls.cdr_loaded_at,
        cdr_first.source_number,
        cdr_first.destination,
        visit_calls.entered_at,
        visit_calls.ended_at as visits_ended_at,
        visit_calls.unended,
        visit_calls.queue_seconds,
        visit_calls.talk_seconds as visit_talk_seconds,
        visit_calls.queue_count,
        visit_calls.any_transfer,
        visit_calls.first_queue,
        visit_calls.caller_number as visit_caller_number,
        visit_calls.did,
        visit_calls.last_outcome,
        visit_calls.final_agent,
        visit_calls.final_agent_key,
        visit_calls.any_answered as visit_answered
    from asterisk_keys
    left join cdr_calls
        on asterisk_keys.pbx = cdr_calls.pbx and asterisk_keys.call_key = cdr_calls.call_key
    left join cdr_first
        on asterisk_keys.pbx = cdr_first.pbx and asterisk_keys.call_key = cdr_first.call_key
    left join visit_calls
        on asterisk_keys.pbx = visit_calls.pbx and asterisk_keys.call_key = visit_calls.call_key

),

-- the far ends' numbers as phonenumbers classifies them (raw_asterisk.phone_numbers)
asterisk_numbered as (

    select
        numbered.*,
        coalesce(caller_numbers.number_type, 'unknown') as caller_type,
        caller_numbers.e164 as caller_e164,
        caller_numbers.country as caller_country,
        coalesce(callee_numbers.number_type, 'unknown') as callee_type,
        callee_numbers.e164 as callee_e164,
        callee_numbers.country as callee_country
    from (
        select
            asterisk_joined.*,
            coalesce(source_number, visit_caller_number) as caller_text,
            -- the DID the caller dialled when the queue_log names one: Master.csv's dst of an
            -- inbound call is often the queue or extension the dialplan sent it to
            coalesce(did, destination) as callee_text
        from asterisk_joined
    ) as numbered
    left join {{ ref('stg_asterisk__phone_numbers') }} as caller_numbers
        on numbered.caller_text = caller_numbers.number_text
    left join {{ ref('stg_asterisk__phone_numbers') }} as callee_numbers
        on numbered.callee_text = callee_numbers.number_text

),

asterisk_directed as (

    select
        asterisk_joined.*,
        case
            when visit_calls_present then 'inbound'
            when caller_type = 'internal' and callee_type = 'internal' then 'internal'
            when caller_type = 'internal' then 'outbound'
            else 'inbound'
        end as direction
    from (
        select asterisk_numbered.*, entered_at is not null as visit_calls_present
        from asterisk_numbered
    ) as asterisk_joined

),

asterisk as (

    select
        pbx || ':' || call_key as call_id,
        'asterisk' as platform,
        pbx,
        call_key as source_call_id,
        direction,
        case
            when cdr_started_at is null then entered_at
            when entered_at is null then cdr_started_at
            else least(cdr_started_at, entered_at)
        end as started_at,
        case
            when coalesce(unended, 0) > 0 and cdr_ended_at is null then null
            when cdr_ended_at is null then visits_ended_at
            when visits_ended_at is null then cdr_ended_at
            else greatest(cdr_ended_at, visits_ended_at)
        end as ended_at,
        coalesce(caller_e164, caller_text) as caller_number,
        coalesce(callee_e164, callee_text) as callee_number,
        case
            when direction = 'internal' then 'internal'
            when direction = 'inbound' then {{ call_type_from_number_type('caller_type') }}
            else {{ call_type_from_number_type('callee_type') }}
        end as call_type,
        -- (an extension is internal and has no country, on a queue call that counts as inbound too)
        case
            when direction = 'inbound' and caller_type <> 'internal' then caller_country
            when direction = 'outbound' and callee_type <> 'internal' then callee_country
        end as country,
        first_queue,
        final_agent,
        final_agent_key,
        case
            when coalesce(visit_answered, 0) = 1 or (entered_at is null and cdr_answered = 1) then 'answered'
            when last_outcome = 'open' then 'open'
            when last_outcome = 'abandoned' then 'abandoned'
            when last_outcome = 'timeout' then 'timeout'
            when any_failed = 1 then 'failed'
            else 'unanswered'
        end as outcome,
        cast(null as {{ dbt.type_string() }}) as route,
        ring_seconds,
        cast(null as {{ dbt.type_bigint() }}) as auto_attendant_seconds,
        coalesce(queue_seconds, 0) as queue_seconds,
        cast(null as {{ dbt.type_bigint() }}) as virtual_agent_seconds,
        case when entered_at is not null then coalesce(visit_talk_seconds, 0) else coalesce(cdr_talk_seconds, 0) end
            as talk_seconds,
        cast(null as {{ dbt.type_bigint() }}) as hold_seconds,
        cast(null as {{ dbt.type_boolean() }}) as recorded,
        coalesce(any_transfer, 0) = 1 as transferred,
        coalesce(queue_count, 0) as queue_count,
        cdr_loaded_at
    from asterisk_directed

),

unioned as (

    select * from webex
    union all
    select * from asterisk

)

select
    unioned.*,
    cast({{ to_local_timestamp('started_at') }} as date) as started_date,
    {{ run_started_at_literal() }} as dbt_refreshed_at
from unioned
