-- The last change in the history is the class in force on the as-of day.
with last_change as (
    select distinct on (uscc)
        uscc,
        credit_class,
        valid_until
    from {{ ref('fct_credit_risk_history') }}
    order by uscc asc, changed_on desc
)

select
    last_change.uscc,
    last_change.credit_class as history_class,
    current.credit_class as current_class
from last_change
inner join {{ ref('fct_credit_risk') }} as current on current.uscc = last_change.uscc
where last_change.credit_class <> current.credit_class
    or last_change.valid_until is not null
