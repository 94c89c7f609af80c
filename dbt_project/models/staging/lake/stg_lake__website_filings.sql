with

source as (

    select
        uscc,
        uscc_as_sent,
        resolved_by,
        registered_district,
        domain,
        icp_no,
        homepage_text,
        crawled_at,
        flags,
        extra_columns,
        _source,
        _delivery_date,
        _file,
        _file_sha256,
        _row_number,
        _ingest_run_id,
        _ingested_at
    from {{ source('lake', 'website_filings') }}

),

renamed as (

    select
        cast(uscc as text) as uscc,
        cast(uscc_as_sent as text) as uscc_as_sent,
        cast(resolved_by as text) as resolved_by,
        cast(registered_district as text) as registered_district,
        cast(domain as text) as domain,
        cast(icp_no as text) as icp_no,
        cast(homepage_text as text) as homepage_text,
        cast(crawled_at as timestamptz) as crawled_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
