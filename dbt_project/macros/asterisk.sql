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
  Local/2004@from-queue/n, DAHDI/i1/5551234, Agent/1001, ...) rather than a member name: a
  channel technology (a word of letters, digits and underscores), a '/', and no space inside
  (blanks around it, such as a tab staging does not trim, are not part of it).
  Member names are free text ("Sathish", "Frolova K.", "Tania Lissete Flores Zavala"), and one
  may hold a '/' ("Ana Ventas/Soporte"): a '/' alone would take it for an interface, and the
  member's whole session would go to its interface instead. A name with a '/' and no space
  (Ventas/Soporte) still reads as an interface: nothing in the line tells it from one of a
  channel driver not listed anywhere (Dongle/dongle0).
#}
{% macro asterisk_is_interface(expr) -%}
    {{ return(adapter.dispatch('asterisk_is_interface', 'switchboard')(expr)) }}
{%- endmacro %}

{% macro default__asterisk_is_interface(expr) -%}
    ({{ expr }} ~ '^[[:space:]]*[A-Za-z][A-Za-z0-9_]*/[^[:space:]]*[[:space:]]*$')
{%- endmacro %}

{% macro duckdb__asterisk_is_interface(expr) -%}
    regexp_full_match({{ expr }}, '[[:space:]]*[A-Za-z][A-Za-z0-9_]*/[^[:space:]]*[[:space:]]*')
{%- endmacro %}

{#
  Identity of an agent across spellings: names change case over time (karthik -> Karthik),
  so one agent is one lower-cased (as DuckDB does it: unicode_lower), trimmed name. The spelling
  as logged is kept elsewhere.
#}
{% macro agent_key(expr) -%}
    {{ unicode_lower(trim_spaces(expr)) }}
{%- endmacro %}
