{#
  Refresh plans of the Asterisk incremental models (macros/incremental.sql explains the scheme).
#}

{#
  stg_asterisk__queue_events: which raw lines are new since the last run, and from which epoch
  each PBX must be re-sequenced.

  * arrived  - raw lines loaded after the newest line staging holds (loaded_at later than its
               max(loaded_at); lines without loaded_at are always taken as new);
  * replaced - staged lines that arrived again (a line reloaded after a crash, a realtime table
               row re-exported): their old epoch is re-sequenced too;
  * region   - per PBX, every line at or after the earliest epoch of those. Order (event_seq),
               the duplicate flag and the boot number of every line before that epoch cannot change:
               the order is by epoch first, copies of a line share its epoch, and boots are counted
               in order.
  If any staged line is no longer in raw (raw was truncated or rewritten), the counts disagree
  and every PBX is rebuilt from its first line.
#}
{% macro stg_queue_events_plan_sql() %}
with

prior as (

    select max(loaded_at) as loaded_to from {{ this }}

),

arrived as (

    select streams.pbx, 'file' as source_kind, q.source_stream, q.line_no as source_position, q.event_epoch
    from {{ source('raw_asterisk', 'queue_log') }} as q
    inner join {{ source('raw_asterisk', 'log_streams') }} as streams
        on q.source_stream = streams.source_stream
        and streams.kind = 'queue_log'
    cross join prior
    where q.loaded_at is null or prior.loaded_to is null or q.loaded_at > prior.loaded_to

    union all

    select t.pbx, 'table' as source_kind, t.row_key as source_stream, cast(null as bigint) as source_position, t.event_epoch
    from {{ source('raw_asterisk', 'queue_log_table') }} as t
    cross join prior
    where t.loaded_at is null or prior.loaded_to is null or t.loaded_at > prior.loaded_to

),

replaced as (

    select staged.pbx, staged.event_epoch, staged.loaded_at
    from {{ this }} as staged
    inner join arrived
        on staged.pbx = arrived.pbx
        and staged.source_stream = arrived.source_stream
        and staged.source_position = arrived.source_position
    where staged.source_kind = 'file' and arrived.source_kind = 'file'

    union all

    select staged.pbx, staged.event_epoch, staged.loaded_at
    from {{ this }} as staged
    inner join arrived
        on staged.pbx = arrived.pbx
        and staged.source_stream = arrived.source_stream
    where staged.source_kind = 'table' and arrived.source_kind = 'table'

),

counts as (

    select
        (select count(*) from {{ source('raw_asterisk', 'queue_log') }} as q cross join prior where q.loaded_at <= prior.loaded_to)
        + (select count(*) from {{ source('raw_asterisk', 'queue_log_table') }} as t cross join prior where t.loaded_at <= prior.loaded_to)
            as raw_kept,
        (select count(*) from {{ this }} as s cross join prior where s.loaded_at <= prior.loaded_to)
        - (select count(*) from replaced cross join prior where replaced.loaded_at <= prior.loaded_to)
            as staged_kept

),

all_pbx as (

    select pbx from {{ this }}
    union
    select pbx from {{ source('raw_asterisk', 'log_streams') }} where kind = 'queue_log'
    union
    select pbx from {{ source('raw_asterisk', 'queue_log_table') }}

),

starts as (

    select pbx, event_epoch from arrived
    union all
    select pbx, event_epoch from replaced
    union all
    select all_pbx.pbx, {{ epoch_floor() }} as event_epoch
    from all_pbx
    cross join counts
    where counts.raw_kept <> counts.staged_kept

)

select pbx, min(event_epoch) as cutoff_epoch
from starts
group by pbx
{% endmacro %}


{% macro stg_queue_events_pre_hooks() %}
    {%- if incremental_ready() -%}
        {{ create_plan_table('stg_asterisk__queue_events__plan', stg_queue_events_plan_sql()) }};
        delete from {{ this }} as target
        where exists (
            select 1 from {{ plan_relation('stg_asterisk__queue_events__plan') }} as plan
            where plan.pbx = target.pbx and target.event_epoch >= plan.cutoff_epoch
        )
    {%- endif -%}
{% endmacro %}


{#
  Boot-level plan of an intermediate or mart model: per PBX, the first boot whose rows in
  `changed` (a relation with pbx, boot_no, dbt_refreshed_at and, optionally, event) were
  rewritten after this model's own newest row. Everything from that boot on is rebuilt. Models
  built from events plan on staged_lines(): every staged line, also those no model reads (a
  CONFIGRELOAD), since any line moves the PBX's data end, where the last boot's open visits time
  out and its open sessions and pauses end. A changed QUEUESTART also reopens the boot before
  it: that boot now ends at a restart instead of at the end of the data. `changed` without
  events (rows derived from them) shows no QUEUESTART, so there a boot this model holds and
  `changed` no longer has is rebuilt as well. When this
  model is empty (or lost its newest rows) the plan only grows, never shrinks, so a failed or
  skipped run is caught up by the next one. A PBX that is no longer upstream at all is removed.
#}
{% macro boot_plan_sql(changed, with_event=true) %}
select
    changed.pbx,
    min(
        {%- if with_event %}
        case when changed.event = 'QUEUESTART' and changed.boot_no > 0 then changed.boot_no - 1 else changed.boot_no end
        {%- else %}
        changed.boot_no
        {%- endif %}
    ) as first_boot
from {{ changed }} as changed
where changed.dbt_refreshed_at > (
    select coalesce(max(own.dbt_refreshed_at), cast('1900-01-01 00:00:00' as timestamp)) from {{ this }} as own
)
group by changed.pbx

{%- if not with_event %}

union all

-- a boot this model holds that upstream no longer has: its rows were all deleted upstream and
-- left no newer row behind (an older rotated file's QUEUESTART renumbers the boots after it)
select own.pbx, min(own.boot_no) as first_boot
from (
    select pbx, boot_no from {{ this }} where pbx is not null
    except
    select pbx, boot_no from {{ changed }}
) as own
group by own.pbx
{%- endif %}

union all

-- a PBX gone from upstream altogether (its raw lines were removed): all of it goes
select gone.pbx, 0 as first_boot
from (select distinct pbx from {{ this }}) as gone
where not exists (select 1 from {{ changed }} as still where still.pbx = gone.pbx)
{% endmacro %}


{# The staged lines a boot plan of an event-built model looks at (see boot_plan_sql). #}
{% macro staged_lines() -%}
    {{ ref('stg_asterisk__queue_events') }}
{%- endmacro %}


{#
  Pre-hook of a boot-planned model: writes the plan (pbx, first_boot) to <model>__plan, then
  deletes the model's rows from each planned PBX's first boot on; the model's incremental
  select rebuilds exactly those boots from the same plan.
#}
{% macro replace_planned_boots(plan_sql) %}
    {%- if incremental_ready() -%}
        {{ create_plan_table(this.identifier ~ '__plan', plan_sql) }};
        delete from {{ this }} as target
        where exists (
            select 1 from {{ plan_relation(this.identifier ~ '__plan') }} as plan
            where plan.pbx = target.pbx and target.boot_no >= plan.first_boot
        )
    {%- endif -%}
{% endmacro %}


{% macro boot_plan_pre_hook(changed, with_event=true) %}
    {{- replace_planned_boots(boot_plan_sql(changed, with_event)) -}}
{% endmacro %}


{#
  The select side of a boot-planned model: `rebuilt_boots_cte` opens its `plan` CTE (the one
  the pre-hook wrote) and `in_rebuilt_boots(alias)` joins a relation of pbx and boot_no rows to
  it, keeping the rebuilt boots only. Both render nothing in a full build.
#}
{% macro rebuilt_boots_cte(incremental) %}
{%- if incremental %}
plan as (

    select pbx, first_boot from {{ plan_relation(this.identifier ~ '__plan') }}

),
{%- endif %}
{% endmacro %}


{% macro in_rebuilt_boots(alias, incremental) -%}
    {%- if incremental %}
    inner join plan
        on {{ alias }}.pbx = plan.pbx
        and {{ alias }}.boot_no >= plan.first_boot
    {%- endif %}
{%- endmacro %}
