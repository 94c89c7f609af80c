{#- Names for codes and the rules about districts, written once for every model. -#}

{#- The city's own division code, from the catalog through the districts seed: the
    records it holds are the city departments', not a district's (null when the
    catalog has no city source). -#}
{% macro city_code() -%}
    (select city.district_code from {{ ref('districts') }} as city where city.is_city)
{%- endmacro %}

{#- A district's name as the marts show it: 未知 when the code is not a known district. -#}
{% macro district_name(name) -%}
    coalesce({{ name }}, '未知')
{%- endmacro %}

{#- A department's name as the marts show it: 未知部门 when it is not in the department list. -#}
{% macro department_name(name) -%}
    coalesce({{ name }}, '未知部门')
{%- endmacro %}

{#- A record is cross-district when a district (not the city) holds it on an entity
    registered in another district; without both districts it is not. Rendered as
    `and` conditions for a `where` at four spaces (wrap it in parentheses to `or` it). -#}
{% macro is_cross_district(holding, registered) -%}
    {{ registered }} is not null
        and {{ holding }} is not null
        and {{ holding }} is distinct from {{ city_code() }}
        and {{ holding }} <> {{ registered }}
{%- endmacro %}
