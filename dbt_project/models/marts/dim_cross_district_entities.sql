{#- Entities on which a district other than their registered one holds records
    (city-held records excluded), with those districts and counts per feed. Incremental:
    a build recomputes the entities with a record written since its last build (a record
    of an entity whose registry row changed is rewritten too) and those a corrected
    record left; all of them when the districts seed changed. -#}
{%- set changed = changed_record_keys('uscc', 'prior_usccs') %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ watermark_begin(fingerprint_of=[ref('districts')]) }}",
        "{{ delete_changed('uscc', changed_record_keys('uscc', 'prior_usccs')) }}",
    ],
    post_hook=["{{ watermark_commit() }}"],
    indexes=[{'columns': ['uscc']}],
) }}

with

records as (

    select * from {{ ref('int_supervision_records_with_registry') }}
    where {{ is_cross_district('holding_district', 'registered_district') }}
        and uscc is not null
        and {{ only_changed('uscc', changed) }}

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
        {{ district_name('districts.district_name') }} as registered_district_name
    from aggregated
    left join registry on registry.uscc = aggregated.uscc
    left join {{ ref('districts') }} as districts
        on districts.district_code = aggregated.registered_district

)

select * from final
