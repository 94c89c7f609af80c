-- A class other than green names the rules and the records that set it; green names none.
select
    uscc,
    credit_class,
    rule_ids,
    evidence_ids
from {{ ref('fct_credit_risk') }}
where (credit_class <> 'green' and (cardinality(rule_ids) = 0 or cardinality(evidence_ids) = 0))
    or (credit_class = 'green' and (cardinality(rule_ids) > 0 or cardinality(evidence_ids) > 0))
