{#- The one "today" of every mart: var('as_of') when given, else the latest licence,
    inspection or penalty date in the lake. Never now(): re-running gives the same answer. -#}
with

{% if var('as_of', none) %}

as_of as (

    select
        cast('{{ var("as_of") }}' as date) as as_of_date,
        'var' as as_of_origin

)

{% else %}

event_dates as (

    select max(decision_date) as latest_date from {{ ref('stg_lake__licences') }}
    union all
    select max(inspection_date) from {{ ref('stg_lake__inspections') }}
    union all
    select max(decision_date) from {{ ref('stg_lake__penalties') }}

),

as_of as (

    select
        max(latest_date) as as_of_date,
        'latest_event_date' as as_of_origin
    from event_dates

)

{% endif %}

select * from as_of
