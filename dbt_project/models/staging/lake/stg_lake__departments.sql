with

source as (

    select
        department_code,
        department_name,
        level,
        district_code,
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
    from {{ source('lake', 'departments') }}

),

renamed as (

    select
        cast(department_code as text) as department_code,
        cast(department_name as text) as department_name,
        cast(level as text) as level,
        cast(district_code as text) as district_code,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
