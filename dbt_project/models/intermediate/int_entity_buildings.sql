{#- Which entities operate in which building: by the registry's domicile or by a place
    of business on a licence or an inspection (any district), one row per entity and
    building. `home_district_rank` picks, per entity and district, the one building a
    district's penalties (which carry no address) are recorded at: the domicile first,
    else the place named on the entity's latest licence or inspection there. -#}
with

places as (

    select * from {{ ref('int_building_places') }}
    where uscc is not null

),

per_building as (

    select
        uscc,
        building_id,
        max(address_district) as district_code,
        bool_or(via = 'domicile') as by_domicile,
        bool_or(via <> 'domicile') as by_place_of_business,
        max(event_date) as latest_record_date
    from places
    group by 1, 2

),

ranked as (

    select
        per_building.*,
        row_number() over (
            partition by per_building.uscc, per_building.district_code
            order by
                per_building.by_domicile desc,
                per_building.latest_record_date desc nulls last,
                per_building.building_id asc
        ) as home_district_rank
    from per_building

)

select * from ranked
