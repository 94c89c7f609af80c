{#- The parts of a parsed address (schemas/tables/_common.yaml `parsed_address`),
    for every staging model whose table parses one: one list, not three. -#}
{% macro parsed_address() %}
        address_district,
        address_road,
        address_lane,
        address_number,
        address_building,
        address_floor,
        address_room,
{%- endmacro %}
