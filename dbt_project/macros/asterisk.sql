{#
  Asterisk queue_log vocabulary, in one place (reference: asterisk-queue-log.md §2, §6.1).
  Each macro renders a SQL list literal: ('A', 'B', ...).
#}

{% macro sql_list(values) -%}
    ({%- for v in values -%}'{{ v }}'{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}

{# Terminal events whose call was answered (a member talked to the caller). #}
{% macro asterisk_answered_terminal_list() -%}
    {{ return(['COMPLETEAGENT', 'COMPLETECALLER', 'TRANSFER', 'BLINDTRANSFER', 'ATTENDEDTRANSFER']) }}
{%- endmacro %}

{# Terminal events of calls that left the queue unanswered (Asterisk + Wazo/QueueMetrics verbs). #}
{% macro asterisk_unanswered_terminal_list() -%}
    {{ return(['ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW',
               'FULL', 'CLOSED', 'JOINEMPTY', 'JOINUNAVAIL', 'LEAVEEMPTY']) }}
{%- endmacro %}

{% macro asterisk_answered_terminal_events() -%}
    {{ sql_list(asterisk_answered_terminal_list()) }}
{%- endmacro %}

{# Every event that can close a queue visit. #}
{% macro asterisk_terminal_events() -%}
    {{ sql_list(asterisk_answered_terminal_list() + asterisk_unanswered_terminal_list()) }}
{%- endmacro %}

{# Events that belong to a call inside a queue (the visit reconstruction reads only these). #}
{% macro asterisk_visit_events() -%}
    {{ sql_list(['ENTERQUEUE', 'CONNECT', 'RINGNOANSWER', 'RINGCANCELED']
                + asterisk_answered_terminal_list() + asterisk_unanswered_terminal_list()) }}
{%- endmacro %}

{# Events that describe an agent's state (membership, login, pause). #}
{% macro asterisk_agent_state_events() -%}
    {{ sql_list(['ADDMEMBER', 'REMOVEMEMBER', 'PAUSE', 'UNPAUSE', 'PAUSEALL', 'UNPAUSEALL',
                 'AGENTLOGIN', 'AGENTLOGOFF', 'AGENTCALLBACKLOGIN', 'AGENTCALLBACKLOGOFF']) }}
{%- endmacro %}

{#
  Every event the intermediate models read: queue visits, DID, wrap-up, agent state and the
  QUEUESTART restart marker. Others (CONFIGRELOAD, PENALTY, custom verbs, ...) stay in staging.
#}
{% macro asterisk_modelled_events() -%}
    {{ sql_list(['QUEUESTART', 'DID', 'WRAPUPSTART',
                 'ENTERQUEUE', 'CONNECT', 'RINGNOANSWER', 'RINGCANCELED',
                 'COMPLETEAGENT', 'COMPLETECALLER', 'TRANSFER', 'BLINDTRANSFER', 'ATTENDEDTRANSFER',
                 'ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY', 'WITHDRAW',
                 'FULL', 'CLOSED', 'JOINEMPTY', 'JOINUNAVAIL', 'LEAVEEMPTY',
                 'ADDMEMBER', 'REMOVEMEMBER', 'PAUSE', 'UNPAUSE', 'PAUSEALL', 'UNPAUSEALL',
                 'AGENTLOGIN', 'AGENTLOGOFF', 'AGENTCALLBACKLOGIN', 'AGENTCALLBACKLOGOFF']) }}
{%- endmacro %}

{#
  True when an agent field holds a channel interface (SIP/1001, PJSIP/400,
  Local/2004@from-queue/n, Agent/1001, ...) rather than a member name. Member names in real
  logs ("Sathish", "Frolova K.", "Tania Lissete Flores Zavala") never contain '/'.
#}
{% macro asterisk_is_interface(expr) -%}
    ({{ expr }} like '%/%')
{%- endmacro %}

{#
  Identity of an agent across spellings: names change case over time (karthik -> Karthik),
  so one agent is one lower-cased, trimmed name. The spelling as logged is kept elsewhere.
  Lower-casing as DuckDB does it (Unicode's simple case mapping, letter by letter): Postgres'
  lower() follows the database's collation, which under locale C lower-cases ASCII only (JOSÉ
  became josÉ, another agent than José) and under ICU maps a final Σ and İ otherwise (an
  independent audit). Its "C.utf8" collation (glibc) maps as DuckDB does; without it, ICU's root
  locale ("und-x-icu") at least lower-cases every accented letter.
#}
{% macro agent_key(expr) -%}
    {{ return(adapter.dispatch('agent_key', 'switchboard')(expr)) }}
{%- endmacro %}

{# (the key itself back in the database's collation: columns of two collations do not mix) #}
{% macro default__agent_key(expr) -%}
    {%- set collation = unicode_lower_collation() -%}
    {%- if collation -%}
        (lower({{ trim_spaces(expr) }}{{ collation }}) collate "default")
    {%- else -%}
        lower({{ trim_spaces(expr) }})
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__agent_key(expr) -%}
    lower({{ trim_spaces(expr) }})
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
