-- pushed = answered + unanswered; answered = issued + refused + not_needed; overdue <= pushed.
select *
from {{ ref('fct_dual_notification_funnel') }}
where pushed <> answered + unanswered
    or answered <> issued + refused + not_needed
    or overdue > pushed
    or median_feedback_lag_days < 0
