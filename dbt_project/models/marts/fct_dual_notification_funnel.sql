{#- 双告知 funnel per registered district of the entity, pushed department and month of
    the push (Beijing time). Overdue: see int_dual_notifications_enriched. -#}
with

notifications as (

    select * from {{ ref('int_dual_notifications_enriched') }}

),

aggregated as (

    select
        registered_district,
        pushed_department_code,
        pushed_month,
        count(*) as pushed,
        count(*) filter (where is_answered) as answered,
        count(*) filter (where feedback_status = 'ISSUED') as issued,
        count(*) filter (where feedback_status = 'REFUSED') as refused,
        count(*) filter (where feedback_status = 'NOT_NEEDED') as not_needed,
        count(*) filter (where not is_answered) as unanswered,
        count(*) filter (where is_overdue) as overdue,
        cast(percentile_cont(0.5) within group (order by feedback_lag_days) as numeric(10, 2))
            as median_feedback_lag_days,
        max(as_of_date) as as_of_date
    from notifications
    group by 1, 2, 3

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
        {{ district_name('districts.district_name') }} as registered_district_name,
        {{ department_name('departments.department_name') }} as pushed_department_name
    from aggregated
    left join districts on districts.district_code = aggregated.registered_district
    left join departments on departments.department_code = aggregated.pushed_department_code

)

select * from final
