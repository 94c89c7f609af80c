{#- Each 双告知 push with its Beijing-time month, feedback lag and overdue flag.
    Overdue: no feedback and pushed more than overdue_after_days before the as-of day,
    or feedback that came more than overdue_after_days after the push. -#}
with

notifications as (

    select * from {{ ref('stg_lake__dual_notifications') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

enriched as (

    select
        notifications.notification_id,
        notifications.uscc,
        coalesce(notifications.registered_district, 'UNKNOWN') as registered_district,
        coalesce(notifications.pushed_department_code, 'UNKNOWN') as pushed_department_code,
        notifications.pushed_at,
        cast(date_trunc('month', notifications.pushed_at at time zone 'Asia/Shanghai') as date)
            as pushed_month,
        coalesce(notifications.feedback_status, 'NO_FEEDBACK') as feedback_status,
        notifications.feedback_at,
        case when notifications.feedback_at is not null
                then extract(epoch from notifications.feedback_at - notifications.pushed_at) / 86400.0
        end as feedback_lag_days,
        as_of.as_of_date
    from notifications
    cross join as_of

),

flagged as (

    select
        *,
        feedback_status <> 'NO_FEEDBACK' as is_answered,
        (
            (
                feedback_status = 'NO_FEEDBACK'
                and as_of_date - cast(pushed_at at time zone 'Asia/Shanghai' as date)
                > {{ var('overdue_after_days') }}
            )
            or (
                feedback_status <> 'NO_FEEDBACK'
                and feedback_lag_days > {{ var('overdue_after_days') }}
            )
        ) as is_overdue
    from enriched

)

select * from flagged
