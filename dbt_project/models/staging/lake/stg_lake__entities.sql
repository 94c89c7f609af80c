with

source as (

    select
        uscc,
        reg_no,
        name,
        former_names,
        entity_type,
        registered_district,
        address,
        registered_capital_10k_yuan,
        established_date,
        registration_status,
        industry_code,
        business_scope,
        updated_at,
        name_keys,
        {{ parsed_address() }}
        flags,
        extra_columns,
        -- lake.* holds personal columns masked only (clear values: private.entities)
        legal_representative_id_number as legal_representative_id_number_masked,
        _source,
        _delivery_date,
        _file,
        _file_sha256,
        _row_number,
        _ingest_run_id,
        _ingested_at
    from {{ source('lake', 'entities') }}

),

renamed as (

    select
        cast(uscc as text) as uscc,
        cast(reg_no as text) as reg_no,
        cast(name as text) as entity_name,
        cast(former_names as text[]) as former_names,
        cast(entity_type as text) as entity_type,
        cast(registered_district as text) as registered_district,
        cast(address as text) as address,
        cast(registered_capital_10k_yuan as numeric(18,4)) as registered_capital_10k_yuan,
        cast(established_date as date) as established_date,
        cast(registration_status as text) as registration_status,
        cast(industry_code as text) as industry_code,
        cast(business_scope as text) as business_scope,
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
        cast(legal_representative_id_number_masked as text) as legal_representative_id_masked,
        -- lineage
        {{ lake_lineage() }}

    from source

)

select * from renamed
