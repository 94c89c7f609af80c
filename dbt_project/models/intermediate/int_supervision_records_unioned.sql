{#- Licences, inspections and penalties of every source in one shape: what a district
    holds on an entity, with the entity's registered district from the registry. -#}
with

unioned as (

    select * from {{ ref('int_supervision_records_appended') }}

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
