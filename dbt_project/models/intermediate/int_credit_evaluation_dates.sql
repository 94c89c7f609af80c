{#- The days on which an entity's credit class is evaluated: every day one of its facts
    starts or stops counting (the class is constant in between, so the history is exact),
    plus the as-of day. Nothing after the as-of day. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

fact_windows as (

    {{ credit_fact_windows(ref('int_credit_facts'), ref('credit_rules')) }}

),

change_days as (

    select
        uscc,
        counts_from as eval_date
    from fact_windows
    union
    select
        uscc,
        counts_until
    from fact_windows
    where counts_until is not null
    union
    select
        fact_windows.uscc,
        as_of.as_of_date
    from fact_windows cross join as_of

),

filtered as (

    select distinct
        change_days.uscc,
        change_days.eval_date
    from change_days
    cross join as_of
    where change_days.eval_date <= as_of.as_of_date

)

select * from filtered
