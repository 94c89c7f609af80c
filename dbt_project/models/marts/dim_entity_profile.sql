{#- 主体查询: one row per registry entity (every type), with what every district holds on
    it. Windows end on the as-of day: "3 years" = event date in (as_of - 3 years, as_of].
    No personal field (legal representative, id number) is ever selected. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

registry as (

    select * from {{ ref('stg_lake__entities') }}

),

districts as (

    select * from {{ ref('districts') }}

),

records as (

    select
        records.*,
        as_of.as_of_date
    from {{ ref('int_supervision_records_with_registry') }} as records
    cross join as_of
    where records.uscc is not null
        and records.event_date <= as_of.as_of_date

),

licences as (

    select
        licence.uscc,
        count(*) as valid_licences
    from {{ ref('stg_lake__licences') }} as licence
    cross join as_of
    where licence.uscc is not null
        and licence.status = 'VALID'
        and licence.decision_date <= as_of.as_of_date
        and (licence.valid_from is null or licence.valid_from <= as_of.as_of_date)
        and (licence.valid_to is null or licence.valid_to >= as_of.as_of_date)
    group by 1

),

record_summary as (

    select
        uscc,
        count(*) filter (
            where feed = 'inspections'
            and event_date > cast(as_of_date - interval '3 years' as date)
        ) as inspections_3y,
        count(*) filter (
            where feed = 'inspections'
            and event_date > cast(as_of_date - interval '3 years' as date)
            and inspection_result in ('RECTIFY_ORDERED', 'CASE_OPENED')
        ) as inspections_with_problems_3y,
        count(*) filter (
            where feed = 'penalties'
            and record_status is distinct from 'REVOKED'
            and event_date > cast(as_of_date - interval '3 years' as date)
        ) as penalties_3y,
        coalesce(sum(coalesce(fine_amount, 0)) filter (
            where feed = 'penalties'
            and record_status is distinct from 'REVOKED'
            and event_date > cast(as_of_date - interval '3 years' as date)
        ), 0) as fines_total_3y,
        coalesce(sum(coalesce(confiscated_amount, 0)) filter (
            where feed = 'penalties'
            and record_status is distinct from 'REVOKED'
            and event_date > cast(as_of_date - interval '3 years' as date)
        ), 0) as confiscations_total_3y,
        count(*) as records_all_time,
        array_agg(distinct holding_district order by holding_district)
        filter (where holding_district is not null) as holding_districts
    from records
    group by 1

),

list_status as (

    select
        lists.uscc,
        bool_or(lists.list_name = 'abnormal') as on_abnormal_list,
        bool_or(lists.list_name = 'serious') as on_serious_list
    from (
        select
            uscc,
            'abnormal' as list_name,
            listed_date,
            removed_date
        from {{ ref('stg_lake__abnormal_list') }}
        union all
        select
            uscc,
            'serious',
            listed_date,
            removed_date
        from {{ ref('stg_lake__serious_violations') }}
    ) as lists
    cross join as_of
    where lists.listed_date <= as_of.as_of_date
        and (lists.removed_date is null or lists.removed_date > as_of.as_of_date)
    group by 1

),

credit as (

    select
        uscc,
        credit_class
    from {{ ref('fct_credit_risk') }}

),

final as (

    select
        -- ids
        registry.uscc,

        -- registry
        registry.entity_name,
        registry.entity_type,
        registry.registered_district,
        {{ district_name('districts.district_name') }} as registered_district_name,
        registry.registration_status,
        registry.established_date,
        registry.industry_code,

        -- supervision across all districts
        coalesce(licences.valid_licences, 0) as valid_licences,
        coalesce(record_summary.inspections_3y, 0) as inspections_3y,
        coalesce(record_summary.inspections_with_problems_3y, 0) as inspections_with_problems_3y,
        coalesce(record_summary.penalties_3y, 0) as penalties_3y,
        cast(coalesce(record_summary.fines_total_3y, 0) as numeric(18, 2)) as fines_total_3y,
        cast(coalesce(record_summary.confiscations_total_3y, 0) as numeric(18, 2)) as confiscations_total_3y,
        coalesce(record_summary.records_all_time, 0) as records_all_time,
        coalesce(record_summary.holding_districts, cast(array[] as text[])) as holding_districts,

        -- lists and credit
        coalesce(list_status.on_abnormal_list, false) as on_abnormal_list,
        coalesce(list_status.on_serious_list, false) as on_serious_list,
        coalesce(credit.credit_class, 'green') as credit_class,
        registry.legal_representative_id_masked,

        as_of.as_of_date,
        registry.reg_no,
        coalesce(registry.former_names, cast(array[] as text[])) as former_names
    from registry
    cross join as_of
    left join districts on districts.district_code = registry.registered_district
    left join licences on licences.uscc = registry.uscc
    left join record_summary on record_summary.uscc = registry.uscc
    left join list_status on list_status.uscc = registry.uscc
    left join credit on credit.uscc = registry.uscc

)

select * from final
