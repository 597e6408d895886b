{# One row per Webex person (user), keyed by the UUID that CDRs carry in user_uuid. #}

with

source as (

    {{ select_optional_columns(source('raw_webex', 'people'), [
        ['person_uuid', dbt.type_string()],
        ['email', dbt.type_string()],
        ['emails', dbt.type_string()],
        ['display_name', dbt.type_string()],
        ['extension', dbt.type_string()],
        ['location_uuid', dbt.type_string()],
        ['deleted_at', type_timestamptz()],
        ['_loaded_at', type_timestamptz()],
    ]) }}

),

renamed as (

    select
        person_uuid,
        -- the primary e-mail; else the first of `emails` (one address, a comma list or a JSON array);
        -- lower-cased as DuckDB does it on every engine: an agent without a directory row is keyed by it
        coalesce(nullif({{ unicode_lower(trim_spaces('email')) }}, ''), nullif(
            {{ unicode_lower(trim_spaces(dbt.split_part(
                "replace(replace(replace(replace(coalesce(emails, ''), '[', ''), ']', ''), '\"', ''), ' ', '')",
                "','", 1))) }},
            ''
        )) as email,
        nullif({{ trim_spaces('display_name') }}, '') as display_name,
        nullif({{ trim_spaces('extension') }}, '') as extension,
        nullif({{ trim_spaces('location_uuid') }}, '') as location_uuid,
        deleted_at,
        _loaded_at as loaded_at,
        row_number() over (partition by person_uuid order by _loaded_at desc) as version_rank
    from source
    where person_uuid is not null

)

select person_uuid, email, display_name, extension, location_uuid, deleted_at, loaded_at
from renamed
where version_rank = 1
