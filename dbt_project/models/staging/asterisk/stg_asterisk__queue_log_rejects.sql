with

source as (

    select * from {{ source('raw_asterisk', 'queue_log_rejects') }}

),

renamed as (

    select
        {{ hash_key(['pbx', 'source_stream', 'line_no']) }} as reject_id,
        pbx,
        source_stream,
        source_file,
        line_no,
        byte_offset,
        reason,
        raw_text,
        loaded_at
    from source

)

select * from renamed
