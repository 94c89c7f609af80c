{#- Fails for every combination of the given columns that occurs more than once
    (nulls compare equal, so a null in a key column is a duplicate like any value). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
