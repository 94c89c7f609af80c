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
        department_code,
        department_name,
        inspection_date,
        kind,
        plan_id,
        joint_id,
        lead_department_code,
        participant_department_codes,
        items_checked,
        result,
        rectify_by,
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
    from {{ source('lake', 'inspections') }}

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
        cast(department_code as text) as department_code,
        cast(department_name as text) as department_name,
        cast(inspection_date as date) as inspection_date,
        cast(kind as text) as kind,
        cast(plan_id as text) as plan_id,
        cast(joint_id as text) as joint_id,
        cast(lead_department_code as text) as lead_department_code,
        cast(participant_department_codes as text[]) as participant_department_codes,
        cast(items_checked as bigint) as items_checked,
        cast(result as text) as result,
        cast(rectify_by as date) as rectify_by,
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
