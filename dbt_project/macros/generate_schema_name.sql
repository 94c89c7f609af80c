{#- Schemas are exactly `staging`, `intermediate`, `marts` (no target prefix): the
    database roles and grants in src/lakehouse/serving/warehouse_bootstrap.sql name them. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
