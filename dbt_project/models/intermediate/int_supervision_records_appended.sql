{#- Licences, inspections and penalties of every source in one shape, kept
    incrementally: each build merges only the rows published since the last one
    (their _ingested_at is newer), keyed by feed, source and record id; a later
    version of a record replaces the earlier. -#}
{{ config(
    materialized='incremental',
    unique_key=['feed', 'source', 'record_id'],
    incremental_strategy='merge',
) }}

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
        cast(null as numeric(18, 2)) as fine_amount,
        cast(null as numeric(18, 2)) as confiscated_amount,
        ingested_at
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
        cast(null as numeric(18, 2)),
        cast(null as numeric(18, 2)),
        ingested_at
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
        confiscated_amount,
        ingested_at
    from {{ ref('stg_lake__penalties') }}

),

unioned as (

    select * from licences
    union all
    select * from inspections
    union all
    select * from penalties

)

select * from unioned
{% if is_incremental() %}
where ingested_at > (select coalesce(max(ingested_at), timestamptz '1900-01-01') from {{ this }})
{% endif %}
