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
        entity_name,
        licence_no,
        licence_type,
        department_code,
        department_name,
        decision_date,
        valid_from,
        valid_to,
        status,
        address,
        updated_at,
        {{ parsed_address() }}
        flags,
        extra_columns,
        _source,
        _delivery_date,
        _file,
        _file_sha256,
        _row_number,
        _ingest_run_id,
        _ingested_at
    from {{ source('lake', 'licences') }}

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
        cast(entity_name as text) as entity_name,
        cast(licence_no as text) as licence_no,
        cast(licence_type as text) as licence_type,
        cast(department_code as text) as department_code,
        cast(department_name as text) as department_name,
        cast(decision_date as date) as decision_date,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(status as text) as status,
        cast(address as text) as address,
        cast(updated_at as timestamptz) as updated_at,
        cast(address_district as text) as address_district,
        cast(address_road as text) as address_road,
        cast(address_lane as text) as address_lane,
        cast(address_number as text) as address_number,
        cast(address_building as text) as address_building,
        cast(address_floor as text) as address_floor,
        cast(address_room as text) as address_room,
        cast(flags as text[]) as flags,
        cast(extra_columns as jsonb) as extra_columns,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
