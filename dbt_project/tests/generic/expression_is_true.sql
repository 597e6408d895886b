{#
  Every row (optionally only rows matching `where_clause`) satisfies `expression`; rows where
  it is false or null fail. Local replacement for dbt_utils.expression_is_true.
#}
{% test expression_is_true(model, expression, where_clause=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_clause %}
    and ({{ where_clause }})
{%- endif %}

{% endtest %}
