-- Every licence and inspection whose address parsed is counted at exactly one building-month.
with

marts as (

    select
        sum(licences) as licences,
        sum(inspections) as inspections
    from {{ ref('fct_building_supervision') }}

),

staged as (

    select
        (
            select count(*) from {{ ref('stg_lake__licences') }}
            where address_road is not null and decision_date is not null
        ) as licences,
        (
            select count(*) from {{ ref('stg_lake__inspections') }}
            where address_road is not null and inspection_date is not null
        ) as inspections

)

select
    marts.*,
    staged.*
from marts cross join staged
where coalesce(marts.licences, 0) <> staged.licences or coalesce(marts.inspections, 0) <> staged.inspections
