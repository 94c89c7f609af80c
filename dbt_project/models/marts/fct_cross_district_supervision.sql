{#- Records (licences, inspections, penalties) a district holds on entities registered in
    another district, by (registered district, holding district, department, feed, month
    of the event date). Records held by the city are never cross-district; records
    whose entity has no known registered district are left out. Incremental: a build
    recomputes the months with a record written since its last build (a record of an
    entity whose registry row changed is rewritten too) and those a corrected record
    left; all of them when the districts seed or the department list changed. -#}
{%- set changed = changed_record_keys('event_month', 'prior_months') %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook=[
        "{{ watermark_begin(fingerprint_of=[ref('districts'), ref('stg_lake__departments')]) }}",
        "{{ delete_changed('event_month', changed_record_keys('event_month', 'prior_months')) }}",
    ],
    post_hook=["{{ watermark_commit() }}"],
    indexes=[{'columns': ['event_month']}],
) }}

with

records as (

    select * from {{ ref('int_supervision_records_with_registry') }}
    where {{ is_cross_district('holding_district', 'registered_district') }}
        and {{ only_changed('event_month', changed) }}

),

aggregated as (

    select
        registered_district,
        holding_district,
        coalesce(department_code, 'UNKNOWN') as department_code,
        feed,
        event_month,
        count(*) as records,
        count(distinct uscc) as entities
    from records
    group by 1, 2, 3, 4, 5

),

districts as (

    select
        district_code,
        district_name
    from {{ ref('districts') }}

),

departments as (

    select
        department_code,
        department_name
    from {{ ref('stg_lake__departments') }}

),

final as (

    select
        aggregated.*,
        {{ district_name('registered.district_name') }} as registered_district_name,
        {{ district_name('holding.district_name') }} as holding_district_name,
        {{ department_name('departments.department_name') }} as department_name
    from aggregated
    left join districts as registered on registered.district_code = aggregated.registered_district
    left join districts as holding on holding.district_code = aggregated.holding_district
    left join departments on departments.department_code = aggregated.department_code

)

select * from final
