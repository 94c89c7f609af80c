{#- Every fact a credit rule can count, one row per fact, in one shape:
      metric          the seed's metric name the fact feeds (seeds/credit_rules.csv)
      fact_date       the day it starts to count
      valid_until     the day it stops counting (exclusive) for facts without a window
                      (list entries: the removal date); windowed facts stop after the rule's
                      window_years, applied in int_credit_classes
      amount          what it adds to the metric (1 per record, yuan for fine_total)
      evidence_id     <table>:<natural key> of the record, for tracing the class back
    Revoked penalties (status REVOKED) are not facts at all. -#}
with

penalties as (

    select * from {{ ref('stg_lake__penalties') }}
    where uscc is not null
        and status is distinct from 'REVOKED'

),

penalty_counts as (

    select
        uscc,
        'penalty_count' as metric,
        decision_date as fact_date,
        cast(null as date) as valid_until,
        cast(1 as numeric(18, 2)) as amount,
        'penalties:' || source || ':' || record_id as evidence_id
    from penalties

),

penalty_amounts as (

    select
        uscc,
        'fine_total',
        decision_date,
        cast(null as date),
        cast(coalesce(fine_amount, 0) + coalesce(confiscated_amount, 0) as numeric(18, 2)),
        'penalties:' || source || ':' || record_id
    from penalties
    where coalesce(fine_amount, 0) + coalesce(confiscated_amount, 0) > 0

),

refused_inspections as (

    select
        uscc,
        'refused_inspection',
        inspection_date,
        cast(null as date),
        cast(1 as numeric(18, 2)),
        'inspections:' || source || ':' || record_id
    from {{ ref('stg_lake__inspections') }}
    where uscc is not null
        and result = 'REFUSED'

),

serious_list as (

    select
        uscc,
        'on_serious_list',
        listed_date,
        removed_date,
        cast(1 as numeric(18, 2)),
        'serious_violations:' || uscc || ':' || cast(listed_date as text)
    from {{ ref('stg_lake__serious_violations') }}
    where uscc is not null
        and (removed_date is null or removed_date > listed_date)

),

abnormal_list as (

    select
        uscc,
        'on_abnormal_list',
        listed_date,
        removed_date,
        cast(1 as numeric(18, 2)),
        'abnormal_list:' || uscc || ':' || cast(listed_date as text)
    from {{ ref('stg_lake__abnormal_list') }}
    where uscc is not null
        and (removed_date is null or removed_date > listed_date)

),

unioned as (

    select * from penalty_counts
    union all
    select * from penalty_amounts
    union all
    select * from refused_inspections
    union all
    select * from serious_list
    union all
    select * from abnormal_list

)

select * from unioned
