{#- Per building and month of the event date: the licences, inspections (and those that
    found problems: RECTIFY_ORDERED, CASE_OPENED), penalties and fines recorded there,
    across every district holding records. Licences and inspections are placed by their
    own address; penalties (which carry none) at the entity's building in the holding
    district (see int_entity_buildings; city-held penalties at the domicile). -#}
with

places as (

    select * from {{ ref('int_building_places') }}
    where via <> 'domicile' and event_month is not null

),

entity_buildings as (

    select * from {{ ref('int_entity_buildings') }}

),

registry as (

    select
        uscc,
        address_district as domicile_district
    from {{ ref('stg_lake__entities') }}

),

penalties as (

    select
        entity_buildings.building_id,
        cast(date_trunc('month', stg.decision_date) as date) as event_month,
        stg.holding_district,
        stg.uscc,
        coalesce(stg.fine_amount, 0) as fine_amount,
        coalesce(stg.confiscated_amount, 0) as confiscated_amount
    from {{ ref('stg_lake__penalties') }} as stg
    left join registry on registry.uscc = stg.uscc
    inner join entity_buildings
        on entity_buildings.uscc = stg.uscc
        and entity_buildings.home_district_rank = 1
        and entity_buildings.district_code = case
            when stg.holding_district = {{ city_code() }} then registry.domicile_district
            else stg.holding_district
        end

),

records as (

    select
        building_id,
        event_month,
        holding_district,
        uscc,
        feed,
        inspection_result,
        0 as fine_amount,
        0 as confiscated_amount
    from places
    union all
    select
        building_id,
        event_month,
        holding_district,
        uscc,
        'penalties',
        null,
        fine_amount,
        confiscated_amount
    from penalties

),

aggregated as (

    select
        building_id,
        event_month,
        count(*) filter (where feed = 'licences') as licences,
        count(*) filter (where feed = 'inspections') as inspections,
        count(*) filter (
            where feed = 'inspections' and inspection_result in ('RECTIFY_ORDERED', 'CASE_OPENED')
        ) as inspections_with_problems,
        count(*) filter (where feed = 'penalties') as penalties,
        cast(sum(fine_amount) as numeric(18, 2)) as fines_total,
        cast(sum(confiscated_amount) as numeric(18, 2)) as confiscations_total,
        count(distinct uscc) as entities_with_records,
        array_agg(distinct holding_district order by holding_district) as holding_districts
    from records
    group by 1, 2

),

final as (

    select
        aggregated.building_id,
        dim.road_id,
        dim.district_code,
        aggregated.event_month,
        aggregated.licences,
        aggregated.inspections,
        aggregated.inspections_with_problems,
        aggregated.penalties,
        aggregated.fines_total,
        aggregated.confiscations_total,
        aggregated.entities_with_records,
        aggregated.holding_districts
    from aggregated
    inner join {{ ref('dim_building') }} as dim on dim.building_id = aggregated.building_id

)

select * from final
