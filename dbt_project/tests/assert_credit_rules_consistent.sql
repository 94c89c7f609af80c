-- Every rule: a positive lower bound (a metric without facts is 0 and must not fire),
-- max >= min, and the class_rank of its class in credit_classes.
select rules.*
from {{ ref('credit_rules') }} as rules
left join {{ ref('credit_classes') }} as classes
    on classes.class = rules.class
where rules.min_value <= 0
    or rules.max_value < rules.min_value
    or classes.class_rank is distinct from rules.class_rank
    or rules.class = 'green'
