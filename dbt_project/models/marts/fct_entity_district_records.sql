{#- 主体查询, records part: per entity, holding district and feed, how many licences,
    inspections and penalties that district holds on it (city-held records included),
    with the first and last event dates. -#}
with

records as (

    select * from {{ ref('int_supervision_records_with_registry') }}
    where uscc is not null

),

aggregated as (

    select
        uscc,
        coalesce(holding_district, 'UNKNOWN') as holding_district,
        feed,
        count(*) as records,
        min(event_date) as first_event_date,
        max(event_date) as last_event_date
    from records
    group by 1, 2, 3

),

final as (

    select
        aggregated.*,
        coalesce(districts.district_name, '未知') as holding_district_name
    from aggregated
    left join {{ ref('districts') }} as districts
        on districts.district_code = aggregated.holding_district

)

select * from final
