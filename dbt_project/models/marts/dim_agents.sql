{#
  One row per agent as every queue and agent mart names them (agent_key), across platforms:
  the directory's identity when the agent is in the agent directory, else the platform's own
  (intermediate.int_agents). A Webex agent carries the Webex person and the location the People
  API gives (the latest listing), so calls and visits join to locations through it.
#}
{{ config(materialized='table') }}

with

identities as (

    select * from {{ ref('int_agents') }}

),

agents as (

    select
        agent_key,
        min({{ binary_text('agent') }}) as agent,
        -- byte order on every engine: one agent_key may gather two values (a directory agent_id
        -- that is also a People e-mail listed under another address), and Postgres' collation
        -- would pick another one than DuckDB
        max({{ binary_text('agent_id') }}) as agent_id,
        max({{ binary_text('email') }}) as email,
        max({{ binary_text('extension') }}) as extension,
        max(case when platform = 'asterisk' then 1 else 0 end) = 1 as on_asterisk,
        max(case when platform = 'webex' then 1 else 0 end) = 1 as on_webex
    from identities
    group by agent_key

),

-- an agent with several Webex identities (a directory row matched by e-mail and by extension)
-- takes the person listed last
webex_people as (

    select agent_key, person_uuid, location_uuid, deleted_at
    from (
        select
            identities.agent_key,
            people.person_uuid,
            people.location_uuid,
            people.deleted_at,
            row_number() over (
                partition by identities.agent_key
                order by people.loaded_at desc, {{ binary_text('people.person_uuid') }}
            ) as person_rank
        from identities
        inner join {{ ref('stg_webex__people') }} as people
            on identities.platform = 'webex'
            and identities.platform_agent_key = lower(people.person_uuid)
    ) as ranked
    where person_rank = 1

)

select
    agents.agent_key,
    agents.agent,
    agents.agent_id,
    agents.email,
    agents.extension,
    agents.on_asterisk,
    agents.on_webex,
    webex_people.person_uuid as webex_person_uuid,
    webex_people.deleted_at as webex_deleted_at,
    webex_people.location_uuid,
    locations.location_name
from agents
left join webex_people
    on agents.agent_key = webex_people.agent_key
left join {{ ref('stg_webex__locations') }} as locations
    on webex_people.location_uuid = locations.location_uuid
