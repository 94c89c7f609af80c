with

source as (

    select
        source,
        holding_district,
        uscc,
        uscc_as_sent,
        resolved_by,
        registered_district,
        record_id,
        decision_no,
        entity_name,
        department_code,
        department_name,
        decision_date,
        violation_type,
        facts,
        legal_basis,
        penalty_kinds,
        fine_amount,
        confiscated_amount,
        status,
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
    from {{ source('lake', 'penalties') }}

),

renamed as (

    select
        cast(source as text) as source,
        cast(holding_district as text) as holding_district,
        cast(uscc as text) as uscc,
        cast(uscc_as_sent as text) as uscc_as_sent,
        cast(resolved_by as text) as resolved_by,
        cast(registered_district as text) as registered_district,
        cast(record_id as text) as record_id,
        cast(decision_no as text) as decision_no,
        cast(entity_name as text) as entity_name,
        cast(department_code as text) as department_code,
        cast(department_name as text) as department_name,
        cast(decision_date as date) as decision_date,
        cast(violation_type as text) as violation_type,
        cast(facts as text) as facts,
        cast(legal_basis as text) as legal_basis,
        cast(penalty_kinds as text[]) as penalty_kinds,
        cast(fine_amount as numeric(18,2)) as fine_amount,
        cast(confiscated_amount as numeric(18,2)) as confiscated_amount,
        cast(status as text) as status,
        cast(updated_at as timestamptz) as updated_at,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
