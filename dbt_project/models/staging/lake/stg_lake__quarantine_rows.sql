with

source as (

    -- never `raw`: it can hold personal data and only the loader may read it
    select
        _table,
        _source,
        _delivery_date,
        _file,
        _file_sha256,
        _row_number,
        _ingest_run_id,
        _ingested_at,
        record_key,
        rule_ids,
        reasons
    from {{ source('lake', 'quarantine_rows') }}

),

renamed as (

    select
        -- ids
        cast(_table as text) as table_name,
        cast(_file as text) as delivered_file,
        cast(_file_sha256 as text) as file_sha256,
        cast(_row_number as bigint) as delivered_row_number,
        cast(_ingest_run_id as text) as ingest_run_id,
        cast(record_key as text) as record_key,

        -- strings
        cast(_source as text) as source,
        cast(rule_ids as text[]) as rule_ids,
        cast(reasons as text[]) as reasons,

        -- dates and timestamps
        cast(_delivery_date as date) as delivery_date,
        cast(_ingested_at as timestamptz) as ingested_at

    from source

)

select * from renamed
