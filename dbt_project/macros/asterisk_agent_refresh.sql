{#
  Refresh plans of the incremental agent-side Asterisk models (int_asterisk__agent_events,
  int_asterisk__agent_pause_intervals, int_asterisk__agent_sessions), on the boot-level region
  replace of macros/incremental.sql and macros/asterisk_refresh.sql.

  Agent events resolve interfaces through int_asterisk__member_names, a full table whose
  mappings span boots: a new ADDMEMBER can rename the events of an interface back to where its
  mapping starts. So agent events are rebuilt, per PBX, from the first boot that has new or
  re-sequenced events (boot_plan_sql over int_asterisk__queue_events) or that holds an event
  whose mapping changed since the last build. The mappings the last build used are kept beside
  the model (written by its post-hook, so a failed build leaves them as they were).
#}

{% macro agent_member_names_used_relation() -%}
    {{ this.schema }}.{{ this.identifier }}__member_names
{%- endmacro %}


{#
  Per (pbx, first affected event_seq): mappings that are new, gone, or differ in name or range.
  A mapping that only moved its end affects events from the nearer of the two ends on.
#}
{% macro agent_member_changes_sql(used) %}
select
    coalesce(now_.pbx, used.pbx) as pbx,
    case
        when now_.mapping_id is not null and used.mapping_id is not null
            and now_.member_name = used.member_name
            and now_.lookup_from_seq = used.lookup_from_seq
            then least(
                coalesce(now_.valid_to_seq, used.valid_to_seq),
                coalesce(used.valid_to_seq, now_.valid_to_seq)
            )
        else least(
            coalesce(now_.lookup_from_seq, used.lookup_from_seq),
            coalesce(used.lookup_from_seq, now_.lookup_from_seq)
        )
    end as from_seq
from {{ ref('int_asterisk__member_names') }} as now_
full outer join {{ used }} as used
    on now_.pbx = used.pbx
    and now_.interface = used.interface
    and now_.mapping_id = used.mapping_id
where now_.mapping_id is null
    or used.mapping_id is null
    or now_.member_name <> used.member_name
    or now_.lookup_from_seq <> used.lookup_from_seq
    or coalesce(now_.valid_to_seq, -1) <> coalesce(used.valid_to_seq, -1)
{% endmacro %}


{% macro agent_events_plan_sql() %}
{%- set used = adapter.get_relation(database=this.database, schema=this.schema,
                                    identifier=this.identifier ~ '__member_names') -%}
select pbx, min(first_boot) as first_boot
from (

    {{ boot_plan_sql(staged_lines()) }}

    {%- if used is none %}

    union all

    -- no record of the mappings the model was built with: every boot
    select distinct pbx, 0 as first_boot from {{ ref('int_asterisk__boots') }}
    {%- else %}

    union all

    -- the boot holding the first event whose mapping changed (0 when before the first QUEUESTART)
    select
        changes.pbx,
        coalesce(
            (
                select max(boots.boot_no)
                from {{ ref('int_asterisk__boots') }} as boots
                where boots.pbx = changes.pbx
                    and boots.start_event_seq <= changes.from_seq
            ),
            0
        ) as first_boot
    from ({{ agent_member_changes_sql(agent_member_names_used_relation()) }}) as changes
    {%- endif %}

) as plans
group by pbx
{% endmacro %}


{% macro agent_events_pre_hook() %}
    {{- replace_planned_boots(agent_events_plan_sql()) -}}
{% endmacro %}


{# Post-hook: remember the mappings this build resolved events with. #}
{% macro agent_events_post_hook() %}
    drop table if exists {{ agent_member_names_used_relation() }};
    create table {{ agent_member_names_used_relation() }} as
    select pbx, interface, mapping_id, member_name, lookup_from_seq, valid_to_seq
    from {{ ref('int_asterisk__member_names') }};
    {{ analyze_table(agent_member_names_used_relation()) }}
{% endmacro %}


{#
  Models built from agent events within a boot: rebuilt from the first boot whose agent events
  were rewritten, or whose staged lines were (a restart closes what was open in the boot before
  it; any new line moves the data end, where the last boot's open sessions and pauses end; raw
  lines that vanished re-sequence staging).
#}
{% macro agent_boot_plan_sql() %}
select pbx, min(first_boot) as first_boot
from (

    {{ boot_plan_sql(staged_lines()) }}

    union all

    {{ boot_plan_sql(ref('int_asterisk__agent_events'), with_event=false) }}

) as plans
group by pbx
{% endmacro %}


{% macro agent_boot_plan_pre_hook() %}
    {{- replace_planned_boots(agent_boot_plan_sql()) -}}
{% endmacro %}
