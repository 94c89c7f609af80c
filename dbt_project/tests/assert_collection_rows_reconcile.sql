-- Nothing lost: for every file that was read, rows in = accepted + duplicates + quarantined.
{{ config(severity='warn') }}
select
    source,
    feed,
    delivery_date,
    rows_read_mismatch
from (
    select
        *,
        not rows_reconcile as rows_read_mismatch
    from {{ ref('fct_collection_quality') }}
) as days
where rows_read_mismatch
