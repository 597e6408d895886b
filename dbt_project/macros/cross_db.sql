{#
  Small portability layer. Every macro that differs between DuckDB and Postgres goes through
  adapter.dispatch, with a default__ implementation (Postgres syntax) and a duckdb__ override.
#}

{#
  Text -> a count as bigint, never failing: null for empty, non-numeric, negative or absurdly
  long values. Every number a queue_log field or a realtime row id holds is a count (seconds,
  milliseconds, a queue position, an id); a negative one is damage (the PBX's clock stepped back
  during the call) and, like a missing one, leaves the model to its fallback (end - enter).
  max_digits: 9 by default, as a queue_log duration of ten digits (over 31 years) is damage too,
  and would put a rebuilt entry (end - wait) before any date Postgres stores (4713 BC; the build
  failed there); a realtime table's row id may take up to 18.
#}
{% macro safe_to_count(expr, max_digits=9) -%}
    {{ return(adapter.dispatch('safe_to_count', 'switchboard')(expr, max_digits)) }}
{%- endmacro %}

{% macro default__safe_to_count(expr, max_digits) -%}
    (case when {{ trim_spaces(expr) }} ~ '^[+]?[0-9]{1,{{ max_digits }}}$' then cast({{ trim_spaces(expr) }} as bigint) end)
{%- endmacro %}

{% macro duckdb__safe_to_count(expr, max_digits) -%}
    (case when regexp_full_match({{ trim_spaces(expr) }}, '[+]?[0-9]{1,{{ max_digits }}}') then cast({{ trim_spaces(expr) }} as bigint) end)
{%- endmacro %}


{#
  trim() as DuckDB does it: leading and trailing space separators (Unicode Zs: the space, the
  no-break space, the en/em/thin spaces, the ideographic space...), not tabs or line breaks.
  Postgres' trim() strips only the ASCII space: a name logged with a trailing no-break space would
  be a second agent there and not in DuckDB.
#}
{% macro trim_spaces(expr) -%}
    {{ return(adapter.dispatch('trim_spaces', 'switchboard')(expr)) }}
{%- endmacro %}

{% macro default__trim_spaces(expr) -%}
    btrim({{ expr }}, {{ unicode_space_separators() }})
{%- endmacro %}

{% macro duckdb__trim_spaces(expr) -%}
    trim({{ expr }})
{%- endmacro %}

{# The Zs code points, as a Postgres text expression (chr() is immutable: folded once per query). #}
{% macro unicode_space_separators() -%}
    {%- set code_points = [32, 160, 5760] + range(8192, 8203) | list + [8239, 8287, 12288] -%}
    ({% for cp in code_points %}chr({{ cp }}){% if not loop.last %} || {% endif %}{% endfor %})
{%- endmacro %}


{#
  Lower-casing as DuckDB does it (Unicode's simple case mapping, letter by letter). Postgres'
  lower() follows the database's collation, which under locale C lower-cases ASCII only (JOSÉ
  became josÉ, another agent than José) and under ICU maps a final Σ and İ otherwise (an
  independent audit). Its "C.utf8" collation (glibc) maps as DuckDB does; without it, ICU's root
  locale ("und-x-icu") at least lower-cases every accented letter. For keys: agent names,
  e-mails.
#}
{% macro unicode_lower(expr) -%}
    {{ return(adapter.dispatch('unicode_lower', 'switchboard')(expr)) }}
{%- endmacro %}

{# (the result back in the database's collation: columns of two collations do not mix) #}
{% macro default__unicode_lower(expr) -%}
    {%- set collation = unicode_lower_collation() -%}
    {%- if collation -%}
        (lower(({{ expr }}){{ collation }}) collate "default")
    {%- else -%}
        lower({{ expr }})
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__unicode_lower(expr) -%}
    lower({{ expr }})
{%- endmacro %}

{% macro unicode_lower_collation() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set found = run_query(
        "select collname from pg_collation where collname in ('C.utf8', 'C.UTF-8', 'und-x-icu')"
        ~ " and collencoding in (-1, pg_char_to_encoding('UTF8'))"
        ~ " order by case when collname = 'und-x-icu' then 1 else 0 end, collname limit 1"
    ) -%}
    {{ return(' collate "' ~ found.rows[0][0] ~ '"' if found.rows | length else '') }}
{%- endmacro %}


{#
  Text in byte order, as DuckDB always compares it. Postgres compares by the database's collation
  (en_US puts 'Valentina' after 'valentina', ignores or reorders punctuation), so a tie broken on
  text would pick a different spelling, stream or record there. `collate "C"` is byte order.
#}
{% macro binary_text(expr) -%}
    {{ return(adapter.dispatch('binary_text', 'switchboard')(expr)) }}
{%- endmacro %}

{% macro default__binary_text(expr) -%}
    ({{ expr }} collate "C")
{%- endmacro %}

{% macro duckdb__binary_text(expr) -%}
    {{ expr }}
{%- endmacro %}


{# UTC epoch seconds (bigint) -> timestamp with time zone. Same in both engines. #}
{% macro epoch_to_timestamptz(expr) -%}
    to_timestamp({{ expr }})
{%- endmacro %}


{# timestamp with time zone -> wall-clock timestamp (no zone) in the given IANA zone. #}
{% macro to_local_timestamp(ts_expr, tz=none) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'switchboard')(ts_expr, tz or var('reporting_timezone'))) }}
{%- endmacro %}

{% macro default__to_local_timestamp(ts_expr, tz) -%}
    ({{ ts_expr }} at time zone '{{ tz }}')
{%- endmacro %}

{% macro duckdb__to_local_timestamp(ts_expr, tz) -%}
    timezone('{{ tz }}', {{ ts_expr }})
{%- endmacro %}


{# UTC epoch seconds -> local wall-clock timestamp (no zone). #}
{% macro epoch_to_local_timestamp(epoch_expr, tz=none) -%}
    {{ to_local_timestamp(epoch_to_timestamptz(epoch_expr), tz) }}
{%- endmacro %}


{# Local calendar date -> UTC epoch seconds of that date's local midnight. #}
{% macro local_midnight_epoch(date_expr, tz=none) -%}
    {{ return(adapter.dispatch('local_midnight_epoch', 'switchboard')(date_expr, tz or var('reporting_timezone'))) }}
{%- endmacro %}

{% macro default__local_midnight_epoch(date_expr, tz) -%}
    cast(extract(epoch from (cast({{ date_expr }} as timestamp) at time zone '{{ tz }}')) as bigint)
{%- endmacro %}

{% macro duckdb__local_midnight_epoch(date_expr, tz) -%}
    cast(extract(epoch from timezone('{{ tz }}', cast({{ date_expr }} as timestamp))) as bigint)
{%- endmacro %}


{# 15-minute bucket start of a local wall-clock timestamp. #}
{% macro quarter_hour_start(local_ts_expr) -%}
    {{ dbt.dateadd('minute',
        '15 * cast(floor(extract(minute from ' ~ local_ts_expr ~ ') / 15) as integer)',
        dbt.date_trunc('hour', local_ts_expr)) }}
{%- endmacro %}


{#
  Select-list expression that fans one row out into one row per integer start..stop
  (inclusive). Postgres: a set-returning function in the select list; DuckDB: unnest of
  the list that generate_series returns as a scalar function.
#}
{% macro fan_out_series(start_expr, stop_expr) -%}
    {{ return(adapter.dispatch('fan_out_series', 'switchboard')(start_expr, stop_expr)) }}
{%- endmacro %}

{% macro default__fan_out_series(start_expr, stop_expr) -%}
    generate_series(cast({{ start_expr }} as bigint), cast({{ stop_expr }} as bigint))
{%- endmacro %}

{% macro duckdb__fan_out_series(start_expr, stop_expr) -%}
    unnest(generate_series(cast({{ start_expr }} as bigint), cast({{ stop_expr }} as bigint)))
{%- endmacro %}


{# md5 over '|'-joined parts; nulls become empty strings so the key is never null. #}
{% macro hash_key(parts) -%}
    md5(
    {%- for p in parts -%}
        coalesce(cast({{ p }} as {{ dbt.type_string() }}), '')
        {%- if not loop.last %} || '|' || {% endif -%}
    {%- endfor -%}
    )
{%- endmacro %}


{# Float division that yields null instead of an error when the denominator is 0 or null. #}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}
