-- Every listed hotspot meets its rule with the figures it shows.
select *
from {{ ref('fct_supervision_hotspots') }}
where events < min_events
    or (
        comparison = 'ratio_to_district'
        and not (value > district_value and value >= threshold * district_value)
    )
    or (
        comparison = 'rise_over_trailing'
        and not (trailing_events >= min_baseline_events and value - trailing_value >= threshold)
    )
