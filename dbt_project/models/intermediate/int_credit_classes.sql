{#- The credit class of each entity on each evaluation day, by the active rule version of
    seeds/credit_rules.csv: every rule whose metric value lies in [min_value, max_value]
    (null = unbounded) fires; the worst class fired wins (highest class_rank); none = green.
    rule_ids / evidence_ids are those of the rules that set the class. A metric with no
    fact is 0, so rules must have min_value > 0 (tested on the seed). -#}
with

rules as (

    select * from {{ ref('credit_rules') }}
    where version = {{ var('credit_rules_version') }}

),

eval_dates as (

    select * from {{ ref('int_credit_evaluation_dates') }}

),

fact_windows as (

    {{ credit_fact_windows(ref('int_credit_facts'), ref('credit_rules')) }}

),

metric_values as (

    select
        eval_dates.uscc,
        eval_dates.eval_date,
        fact_windows.metric,
        fact_windows.window_years,
        sum(fact_windows.amount) as metric_value,
        array_agg(distinct fact_windows.evidence_id) as evidence_ids
    from eval_dates
    inner join fact_windows
        on fact_windows.uscc = eval_dates.uscc
        and fact_windows.counts_from <= eval_dates.eval_date
        and (fact_windows.counts_until is null or eval_dates.eval_date < fact_windows.counts_until)
    group by 1, 2, 3, 4

),

fired as (

    select
        metric_values.uscc,
        metric_values.eval_date,
        rules.rule_id,
        rules.class,
        rules.class_rank,
        metric_values.evidence_ids,
        max(rules.class_rank) over (
            partition by metric_values.uscc, metric_values.eval_date
        ) as worst_rank
    from metric_values
    inner join rules
        on rules.metric = metric_values.metric
        and rules.window_years is not distinct from metric_values.window_years
        and metric_values.metric_value >= coalesce(rules.min_value, metric_values.metric_value)
        and metric_values.metric_value <= coalesce(rules.max_value, metric_values.metric_value)

),

worst as (

    select
        uscc,
        eval_date,
        max(class_rank) as class_rank,
        array_agg(distinct rule_id order by rule_id) as rule_ids
    from fired
    where class_rank = worst_rank
    group by 1, 2

),

worst_evidence as (

    select
        fired.uscc,
        fired.eval_date,
        array_agg(distinct evidence.evidence_id order by evidence.evidence_id) as evidence_ids
    from fired
    cross join lateral unnest(fired.evidence_ids) as evidence (evidence_id)
    where fired.class_rank = fired.worst_rank
    group by 1, 2

),

classes as (

    select * from {{ ref('credit_classes') }}

),

final as (

    select
        eval_dates.uscc,
        eval_dates.eval_date,
        classes.class as credit_class,
        classes.class_rank,
        coalesce(worst.rule_ids, cast(array[] as text[])) as rule_ids,
        coalesce(worst_evidence.evidence_ids, cast(array[] as text[])) as evidence_ids,
        {{ var('credit_rules_version') }} as rules_version
    from eval_dates
    left join worst
        on worst.uscc = eval_dates.uscc
        and worst.eval_date = eval_dates.eval_date
    left join worst_evidence
        on worst_evidence.uscc = eval_dates.uscc
        and worst_evidence.eval_date = eval_dates.eval_date
    inner join classes
        on classes.class_rank = coalesce(worst.class_rank, 0)

)

select * from final
