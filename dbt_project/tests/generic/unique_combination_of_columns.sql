{#- Fails for every combination of the given columns that occurs more than once
    (nulls compare equal, so a null in a key column is a duplicate like any value).
    written_by_last_build: only the rows the model's last build wrote, for an incremental
    model that rewrites all rows of a changed key together (a duplicate can only be
    among them; macros/incremental_watermark.sql). -#}
{% test unique_combination_of_columns(model, combination_of_columns, written_by_last_build=false) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
{%- if written_by_last_build %}
where {{ written_by_last_build_of(model.identifier) }}
{%- endif %}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
