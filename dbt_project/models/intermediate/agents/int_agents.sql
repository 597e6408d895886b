{#
  One row per agent identity of a platform (an Asterisk member key, a Webex user UUID), mapped
  to one person across platforms through the agent directory seed:
    * Webex: directory row with that user UUID, else the same e-mail (Webex People), else the
      same extension;
    * Asterisk: directory row with that member name (case-insensitive), else that interface.
  agent_key is the cross-platform identity every mart groups by: lower(agent_id) for agents in
  the directory; otherwise the platform's own identity (Asterisk: lower(trim(member name)),
  unchanged from before the directory; Webex: the People e-mail, else the user UUID).
  agent is the name shown: the directory's display name, else the platform's (Asterisk: latest
  spelling; Webex: People display name, else the CDR's latest User name); one per agent_key
  (the greatest, in byte order, where two identities of one key have two).
#}

with

directory_rows as (

    -- the seed, or no rows when a run did not load it (`dbt run` without `dbt seed`)
    {{ select_optional_columns(ref('agent_directory'), [
        ['agent_id', dbt.type_string()],
        ['display_name', dbt.type_string()],
        ['email', dbt.type_string()],
        ['webex_user_uuid', dbt.type_string()],
        ['extension', dbt.type_string()],
        ['asterisk_member', dbt.type_string()],
        ['asterisk_interface', dbt.type_string()],
    ]) }}

),

directory as (

    select
        -- agent_key(): lower-cased as the platforms' keys are, whatever Postgres' locale
        {{ agent_key('agent_id') }} as agent_key,
        {{ trim_spaces('display_name') }} as display_name,
        nullif({{ unicode_lower(trim_spaces('email')) }}, '') as email,
        nullif(lower({{ trim_spaces('webex_user_uuid') }}), '') as webex_user_uuid,
        nullif({{ trim_spaces('extension') }}, '') as extension,
        nullif({{ agent_key('asterisk_member') }}, '') as asterisk_member_key,
        nullif({{ agent_key('asterisk_interface') }}, '') as asterisk_interface_key,
        agent_id
    from directory_rows
    where agent_id is not null and {{ trim_spaces('agent_id') }} <> ''

),

asterisk_agents as (

    select agent_key as platform_agent_key, agent as platform_agent
    from {{ ref('int_asterisk__agents') }}

),

asterisk_matches as (

    select
        asterisk_agents.platform_agent_key,
        directory.agent_key,
        directory.display_name,
        directory.agent_id,
        directory.email,
        case
            when directory.asterisk_member_key = asterisk_agents.platform_agent_key then 'asterisk_member'
            else 'asterisk_interface'
        end as match_source,
        row_number() over (
            partition by asterisk_agents.platform_agent_key
            order by
                case when directory.asterisk_member_key = asterisk_agents.platform_agent_key then 0 else 1 end,
                {{ binary_text('directory.agent_key') }}
        ) as match_rank
    from asterisk_agents
    inner join directory
        on directory.asterisk_member_key = asterisk_agents.platform_agent_key
        or directory.asterisk_interface_key = asterisk_agents.platform_agent_key

),

asterisk_identities as (

    select
        'asterisk' as platform,
        asterisk_agents.platform_agent_key,
        coalesce(asterisk_matches.agent_key, asterisk_agents.platform_agent_key) as agent_key,
        coalesce(asterisk_matches.display_name, asterisk_agents.platform_agent) as agent,
        asterisk_matches.agent_id,
        asterisk_matches.email,
        cast(null as {{ dbt.type_string() }}) as extension,
        asterisk_matches.match_source
    from asterisk_agents
    left join asterisk_matches
        on asterisk_agents.platform_agent_key = asterisk_matches.platform_agent_key
        and asterisk_matches.match_rank = 1

),

webex_users as (

    -- every person that appears on a Webex record, with its latest CDR name
    select
        lower(user_uuid) as platform_agent_key,
        max(user_name) as cdr_name
    from (
        select
            user_uuid,
            user_name,
            row_number() over (partition by lower(user_uuid) order by started_at desc, {{ binary_text('report_id') }} desc) as name_rank
        from {{ ref('stg_webex__cdr') }}
        where leg_role = 'person' and user_uuid is not null
    ) as named
    where name_rank = 1
    group by lower(user_uuid)

),

webex_people as (

    select
        webex_users.platform_agent_key,
        webex_users.cdr_name,
        people.email,
        people.display_name,
        people.extension
    from webex_users
    left join {{ ref('stg_webex__people') }} as people
        on lower(people.person_uuid) = webex_users.platform_agent_key

),

webex_matches as (

    select
        webex_people.platform_agent_key,
        directory.agent_key,
        directory.display_name,
        directory.agent_id,
        directory.email,
        case
            when directory.webex_user_uuid = webex_people.platform_agent_key then 'webex_user_uuid'
            when directory.email = webex_people.email then 'email'
            else 'extension'
        end as match_source,
        row_number() over (
            partition by webex_people.platform_agent_key
            order by
                case
                    when directory.webex_user_uuid = webex_people.platform_agent_key then 0
                    when directory.email = webex_people.email then 1
                    else 2
                end,
                {{ binary_text('directory.agent_key') }}
        ) as match_rank
    from webex_people
    inner join directory
        on directory.webex_user_uuid = webex_people.platform_agent_key
        or directory.email = webex_people.email
        or directory.extension = webex_people.extension

),

webex_identities as (

    select
        'webex' as platform,
        webex_people.platform_agent_key,
        coalesce(webex_matches.agent_key, webex_people.email, webex_people.platform_agent_key) as agent_key,
        coalesce(webex_matches.display_name, webex_people.display_name, webex_people.cdr_name,
                 webex_people.platform_agent_key) as agent,
        webex_matches.agent_id,
        coalesce(webex_matches.email, webex_people.email) as email,
        webex_people.extension,
        webex_matches.match_source
    from webex_people
    left join webex_matches
        on webex_people.platform_agent_key = webex_matches.platform_agent_key
        and webex_matches.match_rank = 1

),

identities as (

    select * from asterisk_identities
    union all
    select * from webex_identities

)

-- one name per agent_key, so every mart shows the same one: two identities of one key without a
-- directory row (a Webex person re-created under the same e-mail) could otherwise show either
select
    platform,
    platform_agent_key,
    agent_key,
    max({{ binary_text('agent') }}) over (partition by agent_key) as agent,
    agent_id,
    email,
    extension,
    match_source
from identities
