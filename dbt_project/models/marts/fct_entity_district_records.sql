{#- 主体查询, records part: per entity, holding district and feed, how many licences,
    inspections and penalties that district holds on it (city-held records included),
    with the first and last event dates. Incremental: a build recomputes the entities
    with a record written since its last build (and those a corrected record left);
    all of them when the districts seed changed. -#}
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
    where uscc is not null
        and {{ only_changed('uscc', changed) }}

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
        {{ district_name('districts.district_name') }} as holding_district_name
    from aggregated
    left join {{ ref('districts') }} as districts
        on districts.district_code = aggregated.holding_district

)

select * from final
