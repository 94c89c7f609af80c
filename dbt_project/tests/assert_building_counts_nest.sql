-- A building's entities include those by domicile and those by place of business, and
-- every entity of a building is counted once among its entity types.
select building_id
from {{ ref('dim_building') }} as buildings
where entities < entities_by_domicile
    or entities < entities_by_place_of_business
    or entities > entities_by_domicile + entities_by_place_of_business
    or entities <> (
        select coalesce(sum(cast(by_type.value as int)), 0)
        from jsonb_each_text(buildings.entity_types) as by_type
    )
