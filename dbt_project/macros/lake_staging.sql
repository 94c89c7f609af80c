{#- The staging model of one published silver table, lake.<table>: each column
    _lake__sources.yml declares for it (in its order), cast to the declared data_type
    (checked against schemas/ by tests/unit/test_dbt_project.py), then the lineage.
    Left out: personal columns (meta pii) unless named in `masked` (column -> staged
    name, ending in _masked), the framework's own `_` columns (the lineage is renamed by
    lake_lineage) and the columns in `left_out`. `renamed`: column -> staged name.
    The column list is read from the graph, so it exists only when dbt executes. -#}
{% macro lake_staging(table, renamed={}, masked={}, left_out=[]) %}
{%- set relation = source('lake', table) -%}
{%- set columns = graph.sources['source.' ~ project_name ~ '.lake.' ~ table].columns.values() if execute else [] -%}
{%- set business = [] -%}
{%- set personal = [] -%}
{%- for column in columns if not column.name.startswith('_') and column.name not in left_out -%}
    {%- if not column.data_type -%}
        {{ exceptions.raise_compiler_error("lake." ~ table ~ "." ~ column.name ~ " has no data_type in _lake__sources.yml") }}
    {%- endif -%}
    {%- if not column.meta.get('pii') -%}
        {%- do business.append((column.name, column.data_type, renamed.get(column.name, column.name))) -%}
    {%- elif column.name in masked -%}
        {%- do personal.append((column.name, column.data_type, masked[column.name])) -%}
    {%- endif -%}
{%- endfor %}
select
{%- for name, data_type, alias in business + personal %}
    cast({{ name }} as {{ data_type }}) as {{ alias }},
{%- endfor %}
    -- lineage
    {{ lake_lineage() }}
from {{ relation }}
{%- endmacro %}
