{#- One row per registry entity: its credit class on the as-of day, the rules of the
    active rule version that set it and the records that made those rules fire. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

registry as (

    select
        uscc,
        entity_name,
        registered_district
    from {{ ref('stg_lake__entities') }}

),

classes as (

    select int_credit_classes.*
    from {{ ref('int_credit_classes') }}
    inner join as_of on int_credit_classes.eval_date = as_of.as_of_date

),

credit_classes as (

    select * from {{ ref('credit_classes') }}

),

districts as (

    select
        district_code,
        district_name
    from {{ ref('districts') }}

),

final as (

    select
        registry.uscc,
        registry.entity_name,
        registry.registered_district,
        as_of.as_of_date,
        coalesce(classes.credit_class, 'green') as credit_class,
        credit_classes.name_zh as credit_class_name_zh,
        coalesce(classes.class_rank, 0) as class_rank,
        coalesce(classes.rule_ids, cast(array[] as text[])) as rule_ids,
        coalesce(classes.evidence_ids, cast(array[] as text[])) as evidence_ids,
        {{ var('credit_rules_version') }} as rules_version,
        {{ district_name('districts.district_name') }} as registered_district_name
    from registry
    cross join as_of
    left join classes on classes.uscc = registry.uscc
    inner join credit_classes on credit_classes.class_rank = coalesce(classes.class_rank, 0)
    left join districts on districts.district_code = registry.registered_district

)

select * from final
