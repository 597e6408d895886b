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
        nullif(trim(accountcode), '') as account_code,
        -- numbers stay text exactly as the PBX wrote them; E.164 normalisation happens later
        nullif(trim(src), '') as source_number,
        nullif(trim(dst), '') as destination,
        nullif(trim(dcontext), '') as destination_context,
        nullif(trim(clid), '') as caller_id,
        nullif(trim(channel), '') as channel,
        nullif(trim(dstchannel), '') as destination_channel,
        nullif(trim(lastapp), '') as last_app,
        nullif(trim(lastdata), '') as last_data,
        start_at as started_at,
        answer_at as answered_at,
        end_at as ended_at,
        duration as duration_seconds,
        billsec as billable_seconds,
        case
            when answer_at is not null and duration is not null and billsec is not null
                then duration - billsec
        end as ring_seconds,
        upper(trim(disposition)) as disposition,
        upper(trim(disposition)) = 'ANSWERED' as is_answered,
        nullif(trim(amaflags), '') as ama_flags,
        nullif(trim(uniqueid), '') as unique_id,
        nullif(trim(linkedid), '') as linked_id,
        nullif(trim(userfield), '') as user_field,
        loaded_at
    from source

)

select * from renamed
