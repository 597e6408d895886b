{#
  One row per Webex location (People and Locations APIs), keyed by the UUID CDRs carry in
  site_uuid and people carry in location_uuid, with how many listed people work there.
#}
{{ config(materialized='table') }}

with

people_per_location as (

    select location_uuid, count(*) as people
    from {{ ref('stg_webex__people') }}
    where location_uuid is not null
    group by location_uuid

)

select
    locations.location_uuid,
    locations.location_name,
    locations.time_zone,
    locations.country,
    locations.city,
    coalesce(people_per_location.people, 0) as people,
    locations.loaded_at
from {{ ref('stg_webex__locations') }} as locations
left join people_per_location
    on locations.location_uuid = people_per_location.location_uuid
