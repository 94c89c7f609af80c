{#- 双随机 coverage per plan. Inspected = distinct entities with a RANDOM inspection
    carrying the plan id; problems = distinct of those with RECTIFY_ORDERED or CASE_OPENED.
    On time: results published no later than end_date + random_results_due_days (20).
    Draw matches ratio: |drawn - population x ratio| <= max(1 entity, 1 % of population x ratio). -#}
with

plans as (

    select * from {{ ref('stg_lake__random_plans') }}

),

draws as (

    select
        plan_id,
        count(*) as drawn,
        count(distinct uscc) as drawn_entities
    from {{ ref('stg_lake__random_draws') }}
    group by 1

),

inspections as (

    select
        plan_id,
        count(distinct uscc) as inspected_entities,
        count(distinct uscc) filter (
            where result in ('RECTIFY_ORDERED', 'CASE_OPENED')
        ) as entities_with_problems,
        count(*) as inspection_records
    from {{ ref('stg_lake__inspections') }}
    where kind = 'RANDOM'
        and plan_id is not null
    group by 1

),

final as (

    select
        plans.plan_id,
        plans.plan_name,
        plans.lead_department_code,
        plans.participant_department_codes,
        plans.start_date,
        plans.end_date,
        plans.population,
        plans.sampling_ratio,
        cast(plans.population * plans.sampling_ratio as numeric(18, 2)) as expected_drawn,
        coalesce(draws.drawn, 0) as drawn,
        coalesce(inspections.inspected_entities, 0) as inspected_entities,
        coalesce(inspections.inspection_records, 0) as inspection_records,
        coalesce(inspections.entities_with_problems, 0) as entities_with_problems,
        case when coalesce(draws.drawn, 0) > 0
                then round(cast(coalesce(inspections.inspected_entities, 0) as numeric) / draws.drawn, 4)
        end as inspected_share_of_drawn,
        plans.results_published_date,
        plans.results_published_date is not null as results_published,
        coalesce(
            plans.results_published_date <= plans.end_date + {{ var('random_results_due_days') }},
            false
        ) as results_published_on_time,
        case
            when plans.population is null or plans.sampling_ratio is null then null
            else abs(coalesce(draws.drawn, 0) - plans.population * plans.sampling_ratio)
                <= greatest(1, 0.01 * plans.population * plans.sampling_ratio)
        end as drawn_matches_ratio,
        {{ department_name('lead_names.department_name') }} as lead_department_name
    from plans
    left join draws on draws.plan_id = plans.plan_id
    left join inspections on inspections.plan_id = plans.plan_id
    left join {{ ref('stg_lake__departments') }} as lead_names
        on lead_names.department_code = plans.lead_department_code

)

select * from final
