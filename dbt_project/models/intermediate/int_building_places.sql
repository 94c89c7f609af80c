{#- Every record that names a place, with the building it names: the registry's
    domicile of each entity, the place of business of each licence and the place of each
    inspection. Addresses that did not parse (flag address_unparsed) are left out. -#}
with

domiciles as (

    select
        'domicile' as via,
        'entities' as feed,
        'city' as source,
        uscc as record_id,
        uscc,
        {{ city_code() }} as holding_district,
        cast(null as date) as event_date,
        cast(null as text) as inspection_result,
        address,
        address_district,
        address_road,
        address_lane,
        address_number,
        address_building
    from {{ ref('stg_lake__entities') }}

),

licences as (

    select
        'place_of_business',
        'licences',
        source,
        record_id,
        uscc,
        holding_district,
        decision_date,
        cast(null as text),
        address,
        address_district,
        address_road,
        address_lane,
        address_number,
        address_building
    from {{ ref('stg_lake__licences') }}

),

inspections as (

    select
        'inspection_place',
        'inspections',
        source,
        record_id,
        uscc,
        holding_district,
        inspection_date,
        result,
        address,
        address_district,
        address_road,
        address_lane,
        address_number,
        address_building
    from {{ ref('stg_lake__inspections') }}

),

unioned as (

    select * from domiciles
    union all
    select * from licences
    union all
    select * from inspections

),

placed as (

    select
        {{ building_id() }} as building_id,
        {{ road_id() }} as road_id,
        unioned.*,
        cast(date_trunc('month', unioned.event_date) as date) as event_month
    from unioned
    where unioned.address_road is not null

)

select * from placed
