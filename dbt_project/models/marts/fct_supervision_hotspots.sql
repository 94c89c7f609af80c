{#- 监管热点: buildings and roads whose problem rate in a month stands out, by the rules
    of seeds/hotspot_rules.csv, with the figures that made them stand out. Measures:
    problems_per_inspection (inspections finding problems / inspections; its events are
    the inspections) and penalties_per_entity (penalties / entities operating there; its
    events are the penalties). Comparisons: ratio_to_district (value >= threshold x the
    district's value that month, and above it) and rise_over_trailing (value minus the
    place's own value over its previous trailing_months months >= threshold). A rule
    needs min_events events in the month (and min_baseline_events in the trailing months). -#}
with

rules as (

    select * from {{ ref('hotspot_rules') }}

),

building_months as (

    select * from {{ ref('fct_building_supervision') }}

),

buildings as (

    select
        building_id,
        road_id,
        entities
    from {{ ref('dim_building') }}

),

road_entities as (

    select
        dim.road_id,
        count(distinct eb.uscc) as entities
    from {{ ref('int_entity_buildings') }} as eb
    inner join {{ ref('dim_building') }} as dim on dim.building_id = eb.building_id
    group by 1

),

place_months as (

    select
        'building' as level,
        bm.building_id as place_id,
        bm.road_id,
        bm.district_code,
        bm.event_month,
        bm.inspections,
        bm.inspections_with_problems,
        bm.penalties,
        buildings.entities
    from building_months as bm
    inner join buildings on buildings.building_id = bm.building_id
    union all
    -- columns named by the first branch (AL08 takes the repeated road_id for a reused alias)
    select
        'road',
        bm.road_id,
        bm.road_id,  -- noqa: AL08
        bm.district_code,
        bm.event_month,
        sum(bm.inspections),
        sum(bm.inspections_with_problems),
        sum(bm.penalties),
        max(road_entities.entities)
    from building_months as bm
    inner join road_entities on road_entities.road_id = bm.road_id
    group by 2, 3, 4, 5

),

measured as (

    select
        level,
        place_id,
        road_id,
        district_code,
        event_month,
        'problems_per_inspection' as measure,
        inspections_with_problems as numerator,
        inspections as denominator,
        inspections as events
    from place_months
    union all
    select
        level,
        place_id,
        road_id,
        district_code,
        event_month,
        'penalties_per_entity',
        penalties,
        entities,
        penalties  -- noqa: AL08
    from place_months

),

district_months as (

    select
        level,
        district_code,
        event_month,
        measure,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from measured
    group by 1, 2, 3, 4

),

own_trailing as (

    select
        rules.rule_id,
        measured.place_id,
        cast(measured.event_month + make_interval(months => k) as date) as event_month,
        sum(measured.numerator) as numerator,
        sum(measured.denominator) as denominator,
        sum(measured.events) as events
    from rules
    inner join measured on measured.level = rules.level and measured.measure = rules.measure
    cross join lateral generate_series(1, rules.trailing_months) as k
    where rules.comparison = 'rise_over_trailing'
    group by 1, 2, 3

),

evaluated as (

    select
        rules.rule_id,
        measured.level,
        measured.place_id,
        case when measured.level = 'building' then measured.place_id end as building_id,
        measured.road_id,
        measured.district_code,
        measured.event_month,
        measured.measure,
        measured.numerator,
        measured.denominator,
        measured.events,
        round(cast(measured.numerator as numeric) / nullif(measured.denominator, 0), 4) as value,
        round(
            cast(district_months.numerator as numeric) / nullif(district_months.denominator, 0), 4
        ) as district_value,
        own_trailing.numerator as trailing_numerator,
        own_trailing.denominator as trailing_denominator,
        coalesce(own_trailing.events, 0) as trailing_events,
        round(
            cast(own_trailing.numerator as numeric) / nullif(own_trailing.denominator, 0), 4
        ) as trailing_value,
        rules.comparison,
        rules.threshold,
        rules.min_events,
        rules.min_baseline_events,
        rules.trailing_months,
        rules.description as rule_description
    from measured
    inner join rules on rules.level = measured.level and rules.measure = measured.measure
    inner join district_months
        on district_months.level = measured.level
        and district_months.district_code = measured.district_code
        and district_months.event_month = measured.event_month
        and district_months.measure = measured.measure
    left join own_trailing
        on own_trailing.rule_id = rules.rule_id
        and own_trailing.place_id = measured.place_id
        and own_trailing.event_month = measured.event_month
    where measured.events >= rules.min_events and measured.denominator > 0

),

fired as (

    select * from evaluated
    where (
        comparison = 'ratio_to_district'
        and value > district_value and value >= threshold * district_value
    )
    or (
        comparison = 'rise_over_trailing'
        and trailing_events >= min_baseline_events
        and trailing_value is not null
        and value - trailing_value >= threshold
    )

),

final as (

    select
        fired.*,
        case fired.comparison
            when 'ratio_to_district'
                then
                    format(
                        '%s %s (%s of %s) against %s in the district that month', fired.value, fired.measure,
                        fired.numerator, fired.denominator, fired.district_value
                    )
            else
                format(
                    '%s %s (%s of %s) against %s over the previous %s months (%s of %s)',
                    fired.value,
                    fired.measure,
                    fired.numerator,
                    fired.denominator,
                    fired.trailing_value,
                    fired.trailing_months,
                    fired.trailing_numerator,
                    fired.trailing_denominator
                )
        end as reason
    from fired

)

select * from final
