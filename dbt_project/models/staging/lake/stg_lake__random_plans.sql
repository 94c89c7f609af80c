with

source as (

    select
        plan_id,
        plan_name,
        lead_department_code,
        participant_department_codes,
        scope,
        sampling_ratio,
        population,
        start_date,
        end_date,
        results_published_date,
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
    from {{ source('lake', 'random_plans') }}

),

renamed as (

    select
        cast(plan_id as text) as plan_id,
        cast(plan_name as text) as plan_name,
        cast(lead_department_code as text) as lead_department_code,
        cast(participant_department_codes as text[]) as participant_department_codes,
        cast(scope as text) as scope,
        cast(sampling_ratio as numeric(9,6)) as sampling_ratio,
        cast(population as bigint) as population,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(results_published_date as date) as results_published_date,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
