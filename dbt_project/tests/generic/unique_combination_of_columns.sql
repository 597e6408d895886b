{#
  The combination of `combination_of_columns` is unique in the model (a model's grain).
  Local replacement for dbt_utils.unique_combination_of_columns (dbt packages are not used).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
