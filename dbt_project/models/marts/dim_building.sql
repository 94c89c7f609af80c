{#- 楼宇经济: one row per building named by any parsed address (registry domicile,
    licence place of business, inspection place), with the entities operating there
    (by domicile or by place of business), their types and credit classes. -#}
with

places as (

    select * from {{ ref('int_building_places') }}

),

entity_buildings as (

    select * from {{ ref('int_entity_buildings') }}

),

registry as (

    select
        uscc,
        entity_type,
        registration_status
    from {{ ref('stg_lake__entities') }}

),

credit as (

    select
        uscc,
        credit_class
    from {{ ref('fct_credit_risk') }}

),

districts as (

    select
        district_code,
        district_name
    from {{ ref('districts') }}

),

buildings as (

    select
        building_id,
        max(road_id) as road_id,
        max(address_district) as district_code,
        max(address_road) as road,
        max(address_lane) as lane,
        max(address_number) as number,
        max(address_building) as building,
        count(*) filter (where via = 'place_of_business') as licence_records,
        count(*) filter (where via = 'inspection_place') as inspection_records
    from places
    group by 1

),

tenants as (

    select
        entity_buildings.building_id,
        entity_buildings.uscc,
        entity_buildings.by_domicile,
        entity_buildings.by_place_of_business,
        coalesce(registry.entity_type, '未知') as entity_type,
        registry.registration_status,
        coalesce(credit.credit_class, 'unknown') as credit_class
    from entity_buildings
    left join registry on registry.uscc = entity_buildings.uscc
    left join credit on credit.uscc = entity_buildings.uscc

),

tenant_counts as (

    select
        building_id,
        count(*) as entities,
        count(*) filter (where by_domicile) as entities_by_domicile,
        count(*) filter (where by_place_of_business) as entities_by_place_of_business,
        count(*) filter (where registration_status = '存续') as active_entities,
        count(*) filter (where credit_class in ('red', 'black')) as red_or_black_entities
    from tenants
    group by 1

),

type_counts as (

    select
        building_id,
        jsonb_object_agg(entity_type, n order by entity_type) as entity_types
    from (select
        building_id,
        entity_type,
        count(*) as n
    from tenants
    group by 1, 2) as t
    group by 1

),

class_counts as (

    select
        building_id,
        jsonb_object_agg(credit_class, n order by credit_class) as credit_classes
    from (select
        building_id,
        credit_class,
        count(*) as n
    from tenants
    group by 1, 2) as c
    group by 1

),

final as (

    select
        buildings.building_id,
        buildings.road_id,
        buildings.district_code,
        {{ district_name('districts.district_name') }} as district_name,
        buildings.road,
        buildings.lane,
        buildings.number,
        buildings.building,
        concat(
            coalesce(districts.district_name, ''), buildings.road,
            buildings.lane || '弄', buildings.number || '号',
            buildings.building || case when buildings.building ~ '^[0-9]+$' then '号楼' else '座' end
        ) as address_label,
        coalesce(tenant_counts.entities, 0) as entities,
        coalesce(tenant_counts.entities_by_domicile, 0) as entities_by_domicile,
        coalesce(tenant_counts.entities_by_place_of_business, 0) as entities_by_place_of_business,
        coalesce(tenant_counts.active_entities, 0) as active_entities,
        coalesce(tenant_counts.red_or_black_entities, 0) as red_or_black_entities,
        coalesce(type_counts.entity_types, '{}'::jsonb) as entity_types,
        coalesce(class_counts.credit_classes, '{}'::jsonb) as credit_classes,
        buildings.licence_records,
        buildings.inspection_records
    from buildings
    left join districts on districts.district_code = buildings.district_code
    left join tenant_counts on tenant_counts.building_id = buildings.building_id
    left join type_counts on type_counts.building_id = buildings.building_id
    left join class_counts on class_counts.building_id = buildings.building_id

)

select * from final
