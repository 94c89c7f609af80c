{#- A building's id from the parsed address columns: district|road|lane|number|building,
    readable and stable (the same parts from any feed give the same id). A road's id
    is district|road. Null when the address did not parse. -#}
{% macro building_id(prefix='') -%}
    case when {{ prefix }}address_road is not null then
        concat_ws('|', {{ prefix }}address_district, {{ prefix }}address_road,
            coalesce({{ prefix }}address_lane, ''), coalesce({{ prefix }}address_number, ''),
            coalesce({{ prefix }}address_building, ''))
    end
{%- endmacro %}

{% macro road_id(prefix='') -%}
    case when {{ prefix }}address_road is not null then
        concat_ws('|', {{ prefix }}address_district, {{ prefix }}address_road)
    end
{%- endmacro %}
