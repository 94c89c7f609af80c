-- A record held by the entity's own district or by the city is never cross-district.
select *
from {{ ref('fct_cross_district_supervision') }}
where holding_district = registered_district
    or holding_district = '310000'
