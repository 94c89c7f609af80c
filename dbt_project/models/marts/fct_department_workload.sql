{#- Licences, inspections, penalties and fines per department and month of the event
    date. Every decision counts (revoked penalties too, they were work); fines and
    confiscations only of penalties not revoked. Unknown departments are kept as 'UNKNOWN'.
    Incremental: a build recomputes the months with a record written since its last build
    (and those a corrected record left); all of them when the department list changed. -#}
{%- set changed = changed_record_keys('event_month', 'prior_months') %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ watermark_begin(fingerprint_of=[ref('stg_lake__departments')]) }}",
        "{{ delete_changed('event_month', changed_record_keys('event_month', 'prior_months')) }}",
    ],
    post_hook=["{{ watermark_commit() }}"],
    indexes=[{'columns': ['event_month']}],
) }}

with

records as (

    select * from {{ ref('int_supervision_records_with_registry') }}
    where {{ only_changed('event_month', changed) }}

),

departments as (

    select
        department_code,
        department_name,
        level,
        district_code
    from {{ ref('stg_lake__departments') }}

),

aggregated as (

    select
        coalesce(department_code, 'UNKNOWN') as department_code,
        event_month,
        count(*) filter (where feed = 'licences') as licences,
        count(*) filter (where feed = 'inspections') as inspections,
        count(*) filter (where feed = 'penalties') as penalties,
        count(*) filter (where feed = 'penalties' and record_status = 'REVOKED') as penalties_revoked,
        cast(coalesce(sum(fine_amount) filter (
            where feed = 'penalties' and record_status is distinct from 'REVOKED'
        ), 0) as numeric(18, 2)) as fines_total,
        cast(coalesce(sum(confiscated_amount) filter (
            where feed = 'penalties' and record_status is distinct from 'REVOKED'
        ), 0) as numeric(18, 2)) as confiscations_total
    from records
    group by 1, 2

),

final as (

    select
        aggregated.department_code,
        {{ department_name('departments.department_name') }} as department_name,
        departments.level as department_level,
        departments.district_code as department_district,
        aggregated.event_month,
        aggregated.licences,
        aggregated.inspections,
        aggregated.penalties,
        aggregated.penalties_revoked,
        aggregated.fines_total,
        aggregated.confiscations_total
    from aggregated
    left join departments on departments.department_code = aggregated.department_code

)

select * from final
