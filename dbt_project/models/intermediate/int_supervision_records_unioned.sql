{#- Licences, inspections and penalties of every source in one shape: what a district
    holds on an entity, with the entity's registered district from the registry. -#}
with

licences as (

    select
        'licences' as feed,
        source,
        record_id,
        uscc,
        holding_district,
        registered_district as record_registered_district,
        department_code,
        decision_date as event_date,
        status as record_status,
        cast(null as text) as inspection_result,
        cast(null as numeric(18,2)) as fine_amount,
        cast(null as numeric(18,2)) as confiscated_amount
    from {{ ref('stg_lake__licences') }}

),

inspections as (

    select
        'inspections' as feed,
        source,
        record_id,
        uscc,
        holding_district,
        registered_district,
        department_code,
        inspection_date,
        cast(null as text),
        result,
        cast(null as numeric(18,2)),
        cast(null as numeric(18,2))
    from {{ ref('stg_lake__inspections') }}

),

penalties as (

    select
        'penalties' as feed,
        source,
        record_id,
        uscc,
        holding_district,
        registered_district,
        department_code,
        decision_date,
        status,
        cast(null as text),
        fine_amount,
        confiscated_amount
    from {{ ref('stg_lake__penalties') }}

),

unioned as (

    select * from licences
    union all
    select * from inspections
    union all
    select * from penalties

),

registry as (

    select uscc, registered_district from {{ ref('stg_lake__entities') }}

),

joined as (

    select
        unioned.*,
        -- today's registry wins over the district copied onto the record when it was ingested
        coalesce(registry.registered_district, unioned.record_registered_district) as registered_district,
        registry.uscc is not null as is_registry_entity,
        cast(date_trunc('month', unioned.event_date) as date) as event_month
    from unioned
    left join registry on registry.uscc = unioned.uscc

)

select * from joined
