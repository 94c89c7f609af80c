-- Entities ordered to rectify are entities with problems, which are entities inspected.
select *
from {{ ref('fct_joint_inspections') }}
where rectification_orders > entities_with_problems
    or entities_with_problems > entities
