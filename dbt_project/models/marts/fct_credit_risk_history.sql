{#- When an entity's credit class changed and why. Classes are evaluated on every day a
    fact starts or stops counting (int_credit_evaluation_dates), so the history is exact:
    one row per change, from the previous class (green before the first fact), valid until
    the next change (null = still in force on the as-of day). Records are taken as they
    are today: a penalty revoked later is absent from the whole history. -#}
with

classes as (

    select * from {{ ref('int_credit_classes') }}

),

with_previous as (

    select
        *,
        coalesce(
            lag(credit_class) over (partition by uscc order by eval_date),
            'green'
        ) as previous_class
    from classes

),

changes as (

    select * from with_previous
    where credit_class <> previous_class

),

final as (

    select
        uscc,
        eval_date as changed_on,
        lead(eval_date) over (partition by uscc order by eval_date) as valid_until,
        previous_class,
        credit_class,
        class_rank,
        rule_ids,
        evidence_ids,
        rules_version
    from changes

)

select * from final
