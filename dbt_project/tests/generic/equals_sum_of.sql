{#
  Reconciliation: the column equals the sum of the `addends` columns on every row, e.g.
  offered = answered + abandoned + timeouts + other_unanswered + open_visits.
#}
{% test equals_sum_of(model, column_name, addends) %}

select *
from {{ model }}
where {{ column_name }} <> ({{ addends | join(' + ') }})
    or {{ column_name }} is null

{% endtest %}
