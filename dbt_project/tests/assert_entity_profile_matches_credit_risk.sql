-- The profile shows the same class and list status the credit rules saw.
select profile.uscc
from {{ ref('dim_entity_profile') }} as profile
inner join {{ ref('fct_credit_risk') }} as credit on credit.uscc = profile.uscc
where profile.credit_class <> credit.credit_class
    or (profile.on_serious_list and credit.class_rank < 2)
    or ((profile.on_abnormal_list or profile.penalties_3y > 0) and credit.class_rank < 1)
    or (profile.penalties_3y > 10 and credit.credit_class <> 'black')
