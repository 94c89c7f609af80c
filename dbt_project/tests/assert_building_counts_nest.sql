-- A building's entities include those by domicile and those by place of business, and
-- every entity of a building is counted once among its entity types.
select building_id
from {{ ref('dim_building') }}
where entities < entities_by_domicile
    or entities < entities_by_place_of_business
    or entities > entities_by_domicile + entities_by_place_of_business
    or entities <> (select coalesce(sum(value::int), 0) from jsonb_each_text(entity_types))
