{#
  Webex Calling vocabulary and helpers (reference: webex.md §1.6–1.9).
#}

{#
  `select <columns> from <relation>` where every listed column is cast to its type, or is a
  typed null when the relation lacks it; when the relation does not exist at all, an empty
  result with the same columns. Webex (like every source) is optional, and dlt creates a
  column only once a value for it has arrived, so staging must not depend on either.
  columns: list of [name, sql_type].
#}
{% macro select_optional_columns(relation, columns) -%}
    {%- set existing = [] -%}
    {%- set found = {'relation': none} -%}
    {%- if execute and (relation.schema is none or relation.identifier is none) -%}
        {#- a unit test's given rows (a CTE, not a table): every column is there -#}
        {%- do found.update({'relation': relation}) -%}
        {%- for name, sql_type in columns -%}{%- do existing.append(name) -%}{%- endfor -%}
    {%- elif execute -%}
        {%- set rel = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- if rel is not none -%}
            {%- do found.update({'relation': rel}) -%}
            {%- for col in adapter.get_columns_in_relation(rel) -%}
                {%- do existing.append(col.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    select
    {%- for name, sql_type in columns %}
        {% if name in existing -%}
        cast({{ adapter.quote(name) }} as {{ sql_type }})
        {%- else -%}
        cast(null as {{ sql_type }})
        {%- endif %} as {{ adapter.quote(name) }}{{ ',' if not loop.last }}
    {%- endfor %}
    {% if found.relation is not none -%}
    from {{ relation }}
    {%- else -%}
    where 1 = 0
    {%- endif %}
{%- endmacro %}


{% macro type_timestamptz() -%}
    timestamp with time zone
{%- endmacro %}


{# Record roles, from the CDR's User type (webex.md §1.8). #}
{% macro webex_auto_attendant_user_types() -%}
    {{ sql_list(['AutomatedAttendantVideo', 'AutomatedAttendant', 'AutoAttendant']) }}
{%- endmacro %}

{% macro webex_queue_user_types() -%}
    {{ sql_list(['CallCenterStandard', 'CallCenterPremium', 'CallCenterBasic', 'HuntGroup']) }}
{%- endmacro %}

{% macro webex_person_user_types() -%}
    {{ sql_list(['User', 'Place']) }}
{%- endmacro %}

{#
  A journey's direction, from its first record: inbound (received from outside), outbound (placed
  by a user to an off-net number), internal (both ends on the platform). Webex's own Call type
  SIP_ENTERPRISE (on-net) makes a placed call internal even when dialled as a full number, e.g.
  an employee calling a queue's DID; a PSTN Call type (SIP_INBOUND received; SIP_NATIONAL,
  SIP_SHORTCODE, ... placed) makes it inbound or outbound even when the far end's number is as
  short as an extension (a short code, an operator's service number).
#}
{% macro webex_journey_direction(legs) -%}
    (case
        when {{ legs }}.direction = 'TERMINATING'
            and ({{ legs }}.calling_number_type <> 'internal' or {{ legs }}.webex_call_type = 'SIP_INBOUND')
            then 'inbound'
        when {{ legs }}.direction = 'ORIGINATING' and {{ legs }}.remote_call_id is null
            and ({{ legs }}.called_number_type <> 'internal' or {{ legs }}.webex_call_type in {{ webex_pstn_call_types() }})
            and coalesce({{ legs }}.webex_call_type, '') <> 'SIP_ENTERPRISE'
            then 'outbound'
        else 'internal'
    end)
{%- endmacro %}

{# Call types of a call placed to the public network (webex.md §1.8). #}
{% macro webex_pstn_call_types() -%}
    {{ sql_list(['SIP_NATIONAL', 'SIP_MOBILE', 'SIP_INTERNATIONAL', 'SIP_TOLLFREE', 'SIP_PREMIUM',
                 'SIP_EMERGENCY', 'SIP_SHORTCODE']) }}
{%- endmacro %}

{# Redirect reasons that mean "offered to an agent by a queue or hunt group". #}
{% macro webex_queue_redirect_reasons() -%}
    {{ sql_list(['CallQueue', 'HuntGroup']) }}
{%- endmacro %}

{# Call outcome reasons of an offer the agent could not take (busy, refused): not real ringing. #}
{% macro webex_busy_outcome_reasons() -%}
    {{ sql_list(['UserBusy', 'CallRejected', 'TemporarilyUnavailable', 'UserAbsent', 'Unreachable',
                 'DestinationOutOfOrder', 'SIP480', 'SIP408']) }}
{%- endmacro %}

{# Call outcome reasons of an offer cancelled because the caller hung up while it rang. #}
{% macro webex_cancelled_outcome_reasons() -%}
    {{ sql_list(['SIP487']) }}
{%- endmacro %}

{#
  number_type (pipelines/phone_numbers.py vocabulary) -> call_type of marts.fct_calls:
  internal, national, mobile, international, premium, toll_free, emergency, unknown.
#}
{% macro call_type_from_number_type(expr) -%}
    (case {{ expr }}
        when 'internal' then 'internal'
        when 'fixed_line' then 'national'
        when 'mobile' then 'mobile'
        when 'international' then 'international'
        when 'premium_rate' then 'premium'
        when 'toll_free' then 'toll_free'
        when 'emergency' then 'emergency'
        else 'unknown'
    end)
{%- endmacro %}

{#
  Seconds between two timestamptz values (b - a), milliseconds kept (double); null when either
  is null. The difference is taken exactly before it becomes a double: Postgres's epoch is a
  numeric; DuckDB's is a double whose last bit at 1.7e9 s is 2.4e-7 s (8.233 s came out as
  8.23300004), so DuckDB subtracts whole microseconds.
#}
{% macro exact_seconds_between(a, b) -%}
    {{ return(adapter.dispatch('exact_seconds_between', 'switchboard')(a, b)) }}
{%- endmacro %}

{% macro default__exact_seconds_between(a, b) -%}
    cast(extract(epoch from {{ b }}) - extract(epoch from {{ a }}) as double precision)
{%- endmacro %}

{% macro duckdb__exact_seconds_between(a, b) -%}
    ((epoch_us({{ b }}) - epoch_us({{ a }})) / 1000000.0)
{%- endmacro %}


{# A Webex record's talk: its Duration (whole seconds, answer to release), or, when the record has
   none, the whole seconds between its answer and release times. #}
{% macro webex_talk_seconds(legs) -%}
    coalesce({{ legs }}.duration_seconds, {{ seconds_between(legs ~ '.answered_at', legs ~ '.released_at') }})
{%- endmacro %}


{# Whole seconds between two timestamptz values (b - a, floored like Webex's own durations), as a bigint. #}
{% macro seconds_between(a, b) -%}
    cast(floor(extract(epoch from {{ b }}) - extract(epoch from {{ a }})) as bigint)
{%- endmacro %}


{#
  Pre-hook of a mart that mixes platforms: on an incremental run, delete every row of one
  platform (its rows are then inserted again in full by the model's SQL).
#}
{% macro platform_replace_pre_hook(platform) %}
    {%- if incremental_ready() -%}
        delete from {{ this }} where platform = '{{ platform }}'
    {%- endif -%}
{% endmacro %}


{#
  The Local call ID link keys of Webex records (webex.md §1.9), as (record, link_key) rows:
  `records` has local, remote, related and transfer-related call ids and started_at, `id` names
  its record column. Local call IDs are reused over time, so a record pointing at one (Remote,
  Related, Transfer related call ID) meets the record owning it that started nearest in time,
  within var('webex_call_id_link_seconds'): the owner and the pointers resolved to it share
  'l:<id>#<owner>'; two owners of one id do not meet through it, and pointers to an id no record
  owns near them share 'l:<id>' (the target is not loaded). int_webex__legs links journeys by
  these keys and assert_webex_journeys_are_closed checks them, hence one definition.
#}
{% macro webex_call_id_link_keys(records, id) -%}
with

owners as (

    select {{ id }} as record, local_call_id as call_id, started_at
    from {{ records }}
    where local_call_id is not null

),

pointers as (

    select distinct record, call_id, started_at
    from (
        select {{ id }} as record, remote_call_id as call_id, started_at from {{ records }} where remote_call_id is not null
        union all
        select {{ id }}, related_call_id, started_at from {{ records }} where related_call_id is not null
        union all
        select {{ id }}, transfer_related_call_id, started_at from {{ records }} where transfer_related_call_id is not null
    ) as pointing

),

owner_gaps as (

    select
        pointers.record,
        pointers.call_id,
        owners.record as owner,
        abs(coalesce({{ exact_seconds_between('pointers.started_at', 'owners.started_at') }}, 0)) as gap_seconds
    from pointers
    inner join owners
        on pointers.call_id = owners.call_id
        and pointers.record <> owners.record

),

near_owners as (

    select * from owner_gaps where gap_seconds <= {{ var('webex_call_id_link_seconds') }}

),

resolved as (

    select
        record,
        call_id,
        owner,
        row_number() over (partition by record, call_id order by gap_seconds, owner) as nearness
    from near_owners

)

select record, 'l:' || call_id || '#' || cast(record as {{ dbt.type_string() }}) as link_key
from owners

union all

select record, 'l:' || call_id || '#' || cast(owner as {{ dbt.type_string() }})
from resolved
where nearness = 1

union all

select pointers.record, 'l:' || pointers.call_id
from pointers
where not exists (
    select 1 from resolved
    where resolved.record = pointers.record and resolved.call_id = pointers.call_id
)
{%- endmacro %}
