with

source as (

    select
        uscc,
        uscc_as_sent,
        resolved_by,
        registered_district,
        entity_name,
        listed_date,
        listed_reason,
        decided_by_department_code,
        removed_date,
        removed_reason,
        updated_at,
        flags,
        extra_columns,
        _source,
        _delivery_date,
        _file,
        _file_sha256,
        _row_number,
        _ingest_run_id,
        _ingested_at
    from {{ source('lake', 'serious_violations') }}

),

renamed as (

    select
        cast(uscc as text) as uscc,
        cast(uscc_as_sent as text) as uscc_as_sent,
        cast(resolved_by as text) as resolved_by,
        cast(registered_district as text) as registered_district,
        cast(entity_name as text) as entity_name,
        cast(listed_date as date) as listed_date,
        cast(listed_reason as text) as listed_reason,
        cast(decided_by_department_code as text) as decided_by_department_code,
        cast(removed_date as date) as removed_date,
        cast(removed_reason as text) as removed_reason,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
