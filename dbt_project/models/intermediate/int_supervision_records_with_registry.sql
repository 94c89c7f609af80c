{#- Licences, inspections and penalties of every source in one shape (from
    int_supervision_records_appended) joined to the registry: the entity's registered
    district as the registry has it today, whether the registry knows the entity, and
    the month of each record. -#}
with

records as (

    select * from {{ ref('int_supervision_records_appended') }}

),

registry as (

    select
        uscc,
        registered_district
    from {{ ref('stg_lake__entities') }}

),

joined as (

    select
        records.*,
        -- today's registry wins over the district copied onto the record when it was ingested
        coalesce(registry.registered_district, records.record_registered_district) as registered_district,
        registry.uscc is not null as is_registry_entity,
        cast(date_trunc('month', records.event_date) as date) as event_month
    from records
    left join registry on registry.uscc = records.uscc

)

select * from joined
