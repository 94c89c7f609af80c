with

source as (

    select * from {{ source('lake', 'ingest_runs') }}

),

renamed as (

    select
        -- ids
        cast(ingest_run_id as text) as ingest_run_id,
        cast(_file as text) as delivered_file,
        cast(file_sha256 as text) as file_sha256,

        -- strings
        cast(source as text) as source,
        cast(feed as text) as feed,
        cast(status as text) as file_status,
        cast(reason as text) as file_status_reason,
        cast(unknown_columns as text[]) as unknown_columns,
        cast(expectation_failures as text[]) as expectation_failures,

        -- numbers
        cast(manifest_rows as bigint) as manifest_rows,
        cast(rows_in as bigint) as rows_in,
        cast(rows_accepted as bigint) as rows_accepted,
        cast(rows_duplicate as bigint) as rows_duplicate,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(rows_late as bigint) as rows_late,
        cast(coalesce(rows_promoted, 0) as bigint) as rows_promoted,
        cast(quarantined_by_rule as jsonb) as quarantined_by_rule,
        cast(flagged_by_rule as jsonb) as flagged_by_rule,

        -- booleans
        cast(expectations_passed as boolean) as expectations_passed,

        -- dates and timestamps
        cast(delivery_date as date) as delivery_date,
        cast(started_at as timestamptz) as started_at,
        cast(finished_at as timestamptz) as finished_at

    from source

)

select * from renamed
