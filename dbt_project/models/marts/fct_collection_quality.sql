{#- 归集质量 per source, feed and delivery day, from the run log (one row per delivered
    file, its latest run). Rows reconcile: rows_received = accepted + duplicates +
    quarantined for every file that was read (rejected files excluded); rows_promoted of them were
    quarantined on arrival and promoted when the registry learnt their entity (counted in accepted or
    duplicates, no longer in quarantined). days_since_last_delivery compares the
    source/feed's latest delivery day with the latest delivery day seen overall (no now()).
    A business day a source sent nothing for by the cut-off has one row, feed 'NONE',
    delivery_status 'not delivered' (run-log status 'missing'), until a delivery
    for that day is ingested. -#}
with

latest_runs as (

    -- a file blocked by an expectation and ingested by a later run has two
    -- run-log rows: the latest one is the file's outcome
    select distinct on (delivered_file, file_sha256) *
    from {{ ref('stg_lake__ingest_runs') }}
    order by delivered_file asc, file_sha256 asc, finished_at desc

),

runs as (

    -- a day marked missing whose delivery came later shows the delivery only
    select
        latest_runs.*,
        case when latest_runs.file_status = 'missing' then 'not delivered' else 'delivered' end
            as delivery_status
    from latest_runs
    where latest_runs.file_status <> 'missing'
        or not exists (
            select 1
            from latest_runs as delivered
            where delivered.source = latest_runs.source
                and delivered.delivery_date = latest_runs.delivery_date
                and delivered.file_status <> 'missing'
        )

),

quarantine_by_rule as (

    select
        rule.source,
        rule.feed,
        rule.delivery_date,
        jsonb_object_agg(rule.rule_id, rule.row_count) as quarantined_by_rule
    from (
        select
            runs.source,
            coalesce(runs.feed, case when runs.file_status = 'missing' then 'NONE' else 'UNKNOWN' end)
                as feed,
            runs.delivery_date,
            per_file.key as rule_id,
            sum(cast(per_file.value as bigint)) as row_count
        from runs
        cross join
            lateral jsonb_each_text(coalesce(runs.quarantined_by_rule, cast('{}' as jsonb))) as per_file
        group by 1, 2, 3, 4
    ) as rule
    group by 1, 2, 3

),

per_day as (

    select
        source,
        coalesce(feed, case when file_status = 'missing' then 'NONE' else 'UNKNOWN' end) as feed,
        delivery_date,
        min(delivery_status) as delivery_status,
        count(*) filter (where file_status <> 'missing') as files_received,
        count(*) filter (where file_status = 'rejected') as files_rejected,
        count(*) filter (where file_status = 'blocked') as files_blocked,
        coalesce(
            array_agg(distinct file_status_reason order by file_status_reason)
            filter (where file_status = 'rejected' and file_status_reason is not null),
            cast(array[] as text[])
        ) as rejection_reasons,
        cast(coalesce(sum(rows_in), 0) as bigint) as rows_received,
        cast(coalesce(sum(rows_accepted), 0) as bigint) as rows_accepted,
        cast(coalesce(sum(rows_duplicate), 0) as bigint) as rows_duplicate,
        cast(coalesce(sum(rows_quarantined), 0) as bigint) as rows_quarantined,
        cast(coalesce(sum(rows_late), 0) as bigint) as rows_late,
        cast(coalesce(sum(rows_promoted), 0) as bigint) as rows_promoted,
        cast(coalesce(sum(rows_in) filter (where file_status <> 'rejected'), 0) as bigint) as rows_read,
        bool_and(coalesce(expectations_passed, true)) as expectations_passed
    from runs
    group by 1, 2, 3

),

file_lists as (

    select
        source,
        coalesce(feed, case when file_status = 'missing' then 'NONE' else 'UNKNOWN' end) as feed,
        delivery_date,
        coalesce(
            array_agg(distinct failures.failure order by failures.failure)
            filter (where failures.failure is not null),
            cast(array[] as text[])
        ) as expectation_failures,
        coalesce(
            array_agg(distinct unknown.unknown_column order by unknown.unknown_column)
            filter (where unknown.unknown_column is not null),
            cast(array[] as text[])
        ) as unknown_columns
    from runs
    left join lateral unnest(runs.expectation_failures) as failures (failure) on true
    left join lateral unnest(runs.unknown_columns) as unknown (unknown_column) on true
    group by 1, 2, 3

),

latest as (

    -- days not delivered do not count as deliveries; a 'NONE' row takes its source's latest day
    select
        source,
        feed,
        max(delivery_date) filter (where delivery_status = 'delivered') as last_delivery_date,
        max(max(delivery_date) filter (where delivery_status = 'delivered')) over (partition by source)
            as source_last_delivery_date,
        max(max(delivery_date) filter (where delivery_status = 'delivered')) over ()
            as latest_delivery_date_overall
    from per_day
    group by 1, 2

),

final as (

    select
        per_day.source,
        per_day.feed,
        per_day.delivery_date,
        per_day.delivery_status,
        per_day.files_received,
        per_day.files_rejected,
        per_day.files_blocked,
        per_day.rejection_reasons,
        per_day.rows_received,
        per_day.rows_accepted,
        per_day.rows_duplicate,
        per_day.rows_quarantined,
        coalesce(quarantine_by_rule.quarantined_by_rule, cast('{}' as jsonb)) as quarantined_by_rule,
        per_day.rows_late,
        per_day.rows_promoted,
        (
            per_day.rows_read
            = per_day.rows_accepted + per_day.rows_duplicate + per_day.rows_quarantined
        ) as rows_reconcile,
        coalesce(latest.last_delivery_date, latest.source_last_delivery_date) as last_delivery_date,
        (
            latest.latest_delivery_date_overall
            - coalesce(latest.last_delivery_date, latest.source_last_delivery_date)
        ) as days_since_last_delivery,
        per_day.expectations_passed,
        file_lists.expectation_failures,
        file_lists.unknown_columns,
        coalesce(districts.district_name, per_day.source) as source_name
    from per_day
    inner join latest
        on latest.source = per_day.source
        and latest.feed = per_day.feed
    inner join file_lists
        on file_lists.source = per_day.source
        and file_lists.feed = per_day.feed
        and file_lists.delivery_date = per_day.delivery_date
    left join {{ ref('districts') }} as districts
        on districts.source_code = per_day.source
    left join quarantine_by_rule
        on quarantine_by_rule.source = per_day.source
        and quarantine_by_rule.feed = per_day.feed
        and quarantine_by_rule.delivery_date = per_day.delivery_date

)

select * from final
