with

source as (

    select
        uscc,
        uscc_as_sent,
        resolved_by,
        registered_district,
        plan_id,
        entity_name,
        drawn_at,
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
    from {{ source('lake', 'random_draws') }}

),

renamed as (

    select
        cast(uscc as text) as uscc,
        cast(uscc_as_sent as text) as uscc_as_sent,
        cast(resolved_by as text) as resolved_by,
        cast(registered_district as text) as registered_district,
        cast(plan_id as text) as plan_id,
        cast(entity_name as text) as entity_name,
        cast(drawn_at as timestamptz) as drawn_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
