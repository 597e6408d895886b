{#
  One row per Webex CDR record (one party's view of one call leg): renamed, typed, with the
  E.164 numbers and number types computed at ingestion (pipelines/phone_numbers.py) and the
  record's role in a call journey (webex.md §1.8: services are told apart by User type).
#}

with

source as (

    {{ select_optional_columns(source('raw_webex', 'cdr'), [
        ['report_id', dbt.type_string()],
        ['report_time', type_timestamptz()],
        ['correlation_id', dbt.type_string()],
        ['interaction_id', dbt.type_string()],
        ['call_id', dbt.type_string()],
        ['local_call_id', dbt.type_string()],
        ['remote_call_id', dbt.type_string()],
        ['network_call_id', dbt.type_string()],
        ['related_call_id', dbt.type_string()],
        ['related_reason', dbt.type_string()],
        ['transfer_related_call_id', dbt.type_string()],
        ['call_transfer_time', type_timestamptz()],
        ['direction', dbt.type_string()],
        ['call_type', dbt.type_string()],
        ['answered', dbt.type_boolean()],
        ['answer_indicator', dbt.type_string()],
        ['answered_elsewhere', dbt.type_string()],
        ['start_time', type_timestamptz()],
        ['answer_time', type_timestamptz()],
        ['release_time', type_timestamptz()],
        ['duration', dbt.type_bigint()],
        ['ring_duration', dbt.type_bigint()],
        ['hold_duration', dbt.type_bigint()],
        ['user_uuid', dbt.type_string()],
        ['user_type', dbt.type_string()],
        ['user', dbt.type_string()],
        ['user_number', dbt.type_string()],
        ['calling_number', dbt.type_string()],
        ['called_number', dbt.type_string()],
        ['dialed_digits', dbt.type_string()],
        ['redirecting_number', dbt.type_string()],
        ['redirecting_party_uuid', dbt.type_string()],
        ['original_called_party_uuid', dbt.type_string()],
        ['original_reason', dbt.type_string()],
        ['redirect_reason', dbt.type_string()],
        ['releasing_party', dbt.type_string()],
        ['call_outcome', dbt.type_string()],
        ['call_outcome_reason', dbt.type_string()],
        ['auto_attendant_key_pressed', dbt.type_string()],
        ['queue_type', dbt.type_string()],
        ['location', dbt.type_string()],
        ['site_uuid', dbt.type_string()],
        ['inbound_trunk', dbt.type_string()],
        ['outbound_trunk', dbt.type_string()],
        ['international_country', dbt.type_string()],
        ['local_session_id', dbt.type_string()],
        ['remote_session_id', dbt.type_string()],
        ['final_local_session_id', dbt.type_string()],
        ['final_remote_session_id', dbt.type_string()],
        ['transfer_type', dbt.type_string()],
        ['call_recording_platform_name', dbt.type_string()],
        ['call_recording_result', dbt.type_string()],
        ['call_recording_trigger', dbt.type_string()],
        ['calling_number_e164', dbt.type_string()],
        ['calling_number_country', dbt.type_string()],
        ['calling_number_type', dbt.type_string()],
        ['called_number_e164', dbt.type_string()],
        ['called_number_country', dbt.type_string()],
        ['called_number_type', dbt.type_string()],
        ['_source', dbt.type_string()],
        ['_loaded_at', type_timestamptz()],
    ]) }}

),

renamed as (

    select
        report_id,
        report_time as reported_at,
        -- link ids: empty strings are no link (the loader nulls them; a hand-made CSV may not)
        nullif({{ trim_spaces('correlation_id') }}, '') as correlation_id,
        nullif({{ trim_spaces('interaction_id') }}, '') as interaction_id,
        nullif({{ trim_spaces('call_id') }}, '') as sip_call_id,
        nullif({{ trim_spaces('local_call_id') }}, '') as local_call_id,
        nullif({{ trim_spaces('remote_call_id') }}, '') as remote_call_id,
        nullif({{ trim_spaces('network_call_id') }}, '') as network_call_id,
        nullif({{ trim_spaces('related_call_id') }}, '') as related_call_id,
        nullif({{ trim_spaces('related_reason') }}, '') as related_reason,
        nullif({{ trim_spaces('transfer_related_call_id') }}, '') as transfer_related_call_id,
        call_transfer_time as transferred_at,
        upper({{ trim_spaces('direction') }}) as direction,
        upper({{ trim_spaces('call_type') }}) as webex_call_type,
        coalesce(answered, false) as is_answered,
        answer_indicator,
        coalesce(lower(answered_elsewhere) = 'yes', false) as is_answered_elsewhere,
        -- Start time may be "" (webex.md §1.7): the record's earliest known time stands in, so
        -- that its journey still has a start (report time is always there, written after release)
        coalesce(start_time, answer_time, release_time, report_time) as started_at,
        answer_time as answered_at,
        -- Release time may be "" too: an answered leg then ended its Duration after its answer
        coalesce(
            release_time,
            {{ dbt.dateadd('second', 'duration', 'answer_time') }},
            answer_time, start_time, report_time
        ) as released_at,
        duration as duration_seconds,
        ring_duration as ring_seconds,
        hold_duration as hold_seconds,
        nullif({{ trim_spaces('user_uuid') }}, '') as user_uuid,
        nullif({{ trim_spaces('user_type') }}, '') as user_type,
        nullif({{ trim_spaces(adapter.quote('user')) }}, '') as user_name,
        nullif({{ trim_spaces('user_number') }}, '') as user_number,
        nullif({{ trim_spaces('calling_number') }}, '') as calling_number,
        nullif({{ trim_spaces('called_number') }}, '') as called_number,
        calling_number_e164,
        calling_number_country,
        coalesce(calling_number_type, 'unknown') as calling_number_type,
        called_number_e164,
        called_number_country,
        coalesce(called_number_type, 'unknown') as called_number_type,
        nullif({{ trim_spaces('dialed_digits') }}, '') as dialed_digits,
        nullif({{ trim_spaces('redirecting_number') }}, '') as redirecting_number,
        nullif({{ trim_spaces('redirecting_party_uuid') }}, '') as redirecting_party_uuid,
        nullif({{ trim_spaces('original_called_party_uuid') }}, '') as original_called_party_uuid,
        nullif({{ trim_spaces('original_reason') }}, '') as original_reason,
        nullif({{ trim_spaces('redirect_reason') }}, '') as redirect_reason,
        nullif({{ trim_spaces('releasing_party') }}, '') as releasing_party,
        nullif({{ trim_spaces('call_outcome') }}, '') as call_outcome,
        nullif({{ trim_spaces('call_outcome_reason') }}, '') as call_outcome_reason,
        nullif({{ trim_spaces('auto_attendant_key_pressed') }}, '') as auto_attendant_key_pressed,
        nullif({{ trim_spaces('queue_type') }}, '') as queue_type,
        nullif({{ trim_spaces('location') }}, '') as location_name,
        nullif({{ trim_spaces('site_uuid') }}, '') as site_uuid,
        nullif({{ trim_spaces('inbound_trunk') }}, '') as inbound_trunk,
        nullif({{ trim_spaces('outbound_trunk') }}, '') as outbound_trunk,
        nullif({{ trim_spaces('international_country') }}, '') as international_country,
        local_session_id,
        remote_session_id,
        final_local_session_id,
        final_remote_session_id,
        nullif({{ trim_spaces('transfer_type') }}, '') as transfer_type,
        call_recording_platform_name as recording_platform,
        call_recording_result as recording_result,
        call_recording_trigger as recording_trigger,
        coalesce(lower(call_recording_result) = 'successful', false) as is_recorded,
        case
            when user_type in {{ webex_auto_attendant_user_types() }} then 'auto_attendant'
            when user_type in {{ webex_queue_user_types() }} then 'queue'
            -- a virtual line is the AI agent, unless a queue offered it the call: a queue agent
            when user_type = 'VirtualLine'
                and coalesce(nullif({{ trim_spaces('redirect_reason') }}, ''), '') not in {{ webex_queue_redirect_reasons() }}
                then 'virtual_agent'
            when user_type = 'VirtualLine' then 'person'
            when user_type in {{ webex_person_user_types() }} then 'person'
            else 'service'
        end as leg_role,
        _source as load_source,
        _loaded_at as loaded_at
    from source
    where report_id is not null

)

select * from renamed
