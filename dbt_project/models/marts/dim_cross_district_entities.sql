{#- Entities on which a district other than their registered one holds records
    (city-held records excluded), with those districts and counts per feed. -#}
with

records as (

    select * from {{ ref('int_supervision_records_with_registry') }}
    where registered_district is not null
        and holding_district is not null
        and holding_district <> '310000'
        and holding_district <> registered_district
        and uscc is not null

),

registry as (

    select
        uscc,
        entity_name
    from {{ ref('stg_lake__entities') }}

),

aggregated as (

    select
        uscc,
        max(registered_district) as registered_district,
        array_agg(distinct holding_district order by holding_district) as other_holding_districts,
        count(*) as cross_district_records,
        count(*) filter (where feed = 'licences') as cross_district_licences,
        count(*) filter (where feed = 'inspections') as cross_district_inspections,
        count(*) filter (where feed = 'penalties') as cross_district_penalties,
        min(event_date) as first_event_date,
        max(event_date) as last_event_date
    from records
    group by 1

),

final as (

    select
        aggregated.uscc,
        registry.entity_name,
        aggregated.registered_district,
        aggregated.other_holding_districts,
        aggregated.cross_district_records,
        aggregated.cross_district_licences,
        aggregated.cross_district_inspections,
        aggregated.cross_district_penalties,
        aggregated.first_event_date,
        aggregated.last_event_date,
        coalesce(districts.district_name, '未知') as registered_district_name
    from aggregated
    left join registry on registry.uscc = aggregated.uscc
    left join {{ ref('districts') }} as districts
        on districts.district_code = aggregated.registered_district

)

select * from final
