{#- 联合检查 per joint inspection id: lead department, participating departments (the
    declared participants plus every inspecting department, less the lead), distinct
    entities, items checked (the most any row reports), entities with problems and
    entities ordered to rectify. -#}
with

joint_rows as (

    select * from {{ ref('stg_lake__inspections') }}
    where joint_id is not null

),

departments as (

    select
        joint_id,
        department_code
    from joint_rows
    where department_code is not null
    union
    select
        joint_id,
        participant.department_code
    from joint_rows
    cross join lateral unnest(participant_department_codes) as participant (department_code)

),

leads as (

    -- the lead most rows name (ties: the smallest code); AM01 objects to distinct with
    -- group by, but distinct on keeps the first row of each joint after the order by
    select distinct on (joint_id)  -- noqa: AM01
        joint_id,
        lead_department_code
    from joint_rows
    where lead_department_code is not null
    group by joint_id, lead_department_code
    order by joint_id asc, count(*) desc, lead_department_code

),

aggregated as (

    select
        joint_id,
        min(inspection_date) as first_inspection_date,
        max(inspection_date) as last_inspection_date,
        array_agg(distinct holding_district order by holding_district)
        filter (where holding_district is not null) as holding_districts,
        count(distinct uscc) as entities,
        max(items_checked) as items_checked,
        count(distinct uscc) filter (
            where result in ('RECTIFY_ORDERED', 'CASE_OPENED')
        ) as entities_with_problems,
        count(distinct uscc) filter (where result = 'RECTIFY_ORDERED') as rectification_orders,
        count(*) as inspection_records
    from joint_rows
    group by 1

),

final as (

    select
        aggregated.joint_id,
        leads.lead_department_code,
        coalesce(
            (
                select array_agg(d.department_code order by d.department_code)
                from departments as d
                where d.joint_id = aggregated.joint_id
                    and d.department_code is distinct from leads.lead_department_code
            ),
            cast(array[] as text[])
        ) as participating_department_codes,
        aggregated.first_inspection_date,
        aggregated.last_inspection_date,
        aggregated.holding_districts,
        aggregated.entities,
        aggregated.items_checked,
        aggregated.entities_with_problems,
        aggregated.rectification_orders,
        aggregated.inspection_records,
        {{ department_name('lead_names.department_name') }} as lead_department_name
    from aggregated
    left join leads on leads.joint_id = aggregated.joint_id
    left join {{ ref('stg_lake__departments') }} as lead_names
        on lead_names.department_code = leads.lead_department_code

)

select * from final
