{# One row per Webex location, keyed by the UUID that CDRs carry in site_uuid. #}

with

source as (

    {{ select_optional_columns(source('raw_webex', 'locations'), [
        ['location_uuid', dbt.type_string()],
        ['name', dbt.type_string()],
        ['time_zone', dbt.type_string()],
        ['country', dbt.type_string()],
        ['city', dbt.type_string()],
        ['_loaded_at', type_timestamptz()],
    ]) }}

),

renamed as (

    select
        location_uuid,
        nullif({{ trim_spaces('name') }}, '') as location_name,
        nullif({{ trim_spaces('time_zone') }}, '') as time_zone,
        nullif(upper({{ trim_spaces('country') }}), '') as country,
        nullif({{ trim_spaces('city') }}, '') as city,
        _loaded_at as loaded_at,
        row_number() over (partition by location_uuid order by _loaded_at desc) as version_rank
    from source
    where location_uuid is not null

)

select location_uuid, location_name, time_zone, country, city, loaded_at
from renamed
where version_rank = 1
