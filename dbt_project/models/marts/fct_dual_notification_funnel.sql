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
        cast(percentile_cont(0.5) within group (order by feedback_lag_days) as numeric(10,2))
            as median_feedback_lag_days,
        max(as_of_date) as as_of_date
    from notifications
    group by 1, 2, 3

)

select * from aggregated
