{#- The lineage every published silver row carries (schemas/tables/_common.yaml
    `lineage`), renamed once for every staging model: where each row came from. -#}
{% macro lake_lineage() %}
        cast(_source as text) as delivered_by_source,
        cast(_delivery_date as date) as delivery_date,
        cast(_file as text) as delivered_file,
        cast(_row_number as bigint) as delivered_row_number,
        cast(_ingest_run_id as text) as ingest_run_id,
        cast(_ingested_at as timestamptz) as ingested_at
{%- endmacro %}
