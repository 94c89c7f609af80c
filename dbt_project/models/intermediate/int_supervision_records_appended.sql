{#- Licences, inspections and penalties of every source in one shape, kept
    incrementally: each build replaces only the records written to lake.* since
    its last build (macros/incremental_watermark.sql: inserted, updated, promoted
    from the quarantine or refreshed by the registry), keyed by feed, source and
    record id. A record whose entity or date was corrected keeps the entities and
    months it had before in prior_usccs / prior_months, so the marts downstream
    also rebuild what the record no longer counts in. -#}
{{ config(
    materialized='incremental',
    unique_key=['feed', 'source', 'record_id'],
    incremental_strategy='delete+insert',
    pre_hook=["{{ watermark_begin() }}"],
    post_hook=["{{ watermark_commit() }}"],
    indexes=[{'columns': ['feed', 'source', 'record_id'], 'unique': true}],
) }}

{%- set feeds = [
    ('licences', 'decision_date', 'status', 'cast(null as text)',
     'cast(null as numeric(18, 2))', 'cast(null as numeric(18, 2))'),
    ('inspections', 'inspection_date', 'cast(null as text)', 'result',
     'cast(null as numeric(18, 2))', 'cast(null as numeric(18, 2))'),
    ('penalties', 'decision_date', 'status', 'cast(null as text)', 'fine_amount', 'confiscated_amount'),
] %}

with

{% for feed, event_date, record_status, inspection_result, fine, confiscated in feeds %}
{{ feed }} as (

    select
        '{{ feed }}' as feed,
        source,
        record_id,
        uscc,
        holding_district,
        registered_district as record_registered_district,
        department_code,
        {{ event_date }} as event_date,
        {{ record_status }} as record_status,
        {{ inspection_result }} as inspection_result,
        {{ fine }} as fine_amount,
        {{ confiscated }} as confiscated_amount,
        ingested_at
    from {{ ref('stg_lake__' ~ feed) }}
    {%- if is_incremental() %}
    where (source, record_id) in (
        select
            changed.source,
            changed.record_id
        from {{ source('lake', feed) }} as changed
        where {{ written_since_last_build('changed') }}
    )
    {%- endif %}

),
{% endfor %}

unioned as (

    select * from licences
    union all
    select * from inspections
    union all
    select * from penalties

),

final as (

    select
        unioned.*,
        {% if is_incremental() -%}
        -- what the record counted in before, if that differs from now
        array(
            select distinct prior.uscc
            from unnest(previous.prior_usccs || previous.uscc) as prior (uscc)
            where prior.uscc is not null and prior.uscc is distinct from unioned.uscc
            order by 1
        ) as prior_usccs,
        array(
            select distinct prior.month
            from unnest(
                previous.prior_months || cast(date_trunc('month', previous.event_date) as date)
            ) as prior (month)
            where prior.month is not null
                and prior.month is distinct from cast(date_trunc('month', unioned.event_date) as date)
            order by 1
        ) as prior_months
        {%- else -%}
        cast(array[] as text[]) as prior_usccs,
        cast(array[] as date[]) as prior_months
        {%- endif %}
    from unioned
    {%- if is_incremental() %}
    left join {{ this }} as previous
        on previous.feed = unioned.feed
        and previous.source = unioned.source
        and previous.record_id = unioned.record_id
    {%- endif %}

)

select * from final
