with

source as (

    select * from {{ source('raw_asterisk', 'cdr') }}

),

renamed as (

    select
        {{ hash_key(['pbx', 'cdr_key']) }} as cdr_id,
        pbx,
        cdr_key,
        source_file,
        nullif({{ trim_spaces('accountcode') }}, '') as account_code,
        -- numbers stay text exactly as the PBX wrote them; E.164 normalisation happens later
        nullif({{ trim_spaces('src') }}, '') as source_number,
        nullif({{ trim_spaces('dst') }}, '') as destination,
        nullif({{ trim_spaces('dcontext') }}, '') as destination_context,
        nullif({{ trim_spaces('clid') }}, '') as caller_id,
        nullif({{ trim_spaces('channel') }}, '') as channel,
        nullif({{ trim_spaces('dstchannel') }}, '') as destination_channel,
        nullif({{ trim_spaces('lastapp') }}, '') as last_app,
        nullif({{ trim_spaces('lastdata') }}, '') as last_data,
        start_at as started_at,
        answer_at as answered_at,
        end_at as ended_at,
        duration as duration_seconds,
        billsec as billable_seconds,
        case
            when answer_at is not null and duration is not null and billsec is not null
                then duration - billsec
        end as ring_seconds,
        upper({{ trim_spaces('disposition') }}) as disposition,
        upper({{ trim_spaces('disposition') }}) = 'ANSWERED' as is_answered,
        nullif({{ trim_spaces('amaflags') }}, '') as ama_flags,
        nullif({{ trim_spaces('uniqueid') }}, '') as unique_id,
        nullif({{ trim_spaces('linkedid') }}, '') as linked_id,
        nullif({{ trim_spaces('userfield') }}, '') as user_field,
        loaded_at
    from source

)

select * from renamed
