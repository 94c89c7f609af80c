{#- The credit rules of the active version (var credit_rules_version) with their class
    names: what an analyst reads beside fct_credit_risk.rule_ids. -#}
with

rules as (

    select * from {{ ref('credit_rules') }}
    where version = {{ var('credit_rules_version') }}

),

classes as (

    select
        class,
        name_zh
    from {{ ref('credit_classes') }}

),

final as (

    select
        rules.rule_id,
        rules.version,
        rules.class,
        classes.name_zh as class_name_zh,
        rules.class_rank,
        rules.metric,
        rules.min_value,
        rules.max_value,
        rules.window_years,
        rules.description
    from rules
    left join classes on classes.class = rules.class

)

select * from final
