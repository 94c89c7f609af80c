{#- Licences, inspections and penalties of every source in one shape (from
    int_supervision_records_appended) joined to the registry: the entity's registered
    district as the registry has it today, whether the registry knows the entity, and
    the month of each record. Incremental: a build replaces the records that changed
    since its last build and the records of the entities whose registry row changed. -#}
{{ config(
    materialized='incremental',
    unique_key=['feed', 'source', 'record_id'],
    incremental_strategy='delete+insert',
    pre_hook=["{{ watermark_begin() }}"],
    post_hook=["{{ watermark_commit() }}"],
    indexes=[{'columns': ['feed', 'source', 'record_id'], 'unique': true}, {'columns': ['uscc']}],
) }}

with

records as (

    select appended.* from {{ ref('int_supervision_records_appended') }} as appended
    {%- if is_incremental() %}
    where {{ written_since_last_build('appended') }}
        or appended.uscc in (
            select changed.uscc
            from {{ source('lake', 'entities') }} as changed
            where {{ written_since_last_build('changed') }}
        )
    {%- endif %}

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
