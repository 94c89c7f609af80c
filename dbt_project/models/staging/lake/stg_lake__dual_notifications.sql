with

source as (

    select
        uscc,
        uscc_as_sent,
        resolved_by,
        registered_district,
        notification_id,
        entity_name,
        registered_date,
        licence_matter,
        pushed_department_code,
        pushed_at,
        feedback_status,
        feedback_at,
        licence_no,
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
    from {{ source('lake', 'dual_notifications') }}

),

renamed as (

    select
        cast(uscc as text) as uscc,
        cast(uscc_as_sent as text) as uscc_as_sent,
        cast(resolved_by as text) as resolved_by,
        cast(registered_district as text) as registered_district,
        cast(notification_id as text) as notification_id,
        cast(entity_name as text) as entity_name,
        cast(registered_date as date) as registered_date,
        cast(licence_matter as text) as licence_matter,
        cast(pushed_department_code as text) as pushed_department_code,
        cast(pushed_at as timestamptz) as pushed_at,
        cast(feedback_status as text) as feedback_status,
        cast(feedback_at as timestamptz) as feedback_at,
        cast(licence_no as text) as licence_no,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
