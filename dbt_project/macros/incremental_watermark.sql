{#- What an incremental model has not seen yet (see README "Marts that follow the day").

    Every row PostgreSQL writes carries the id of the transaction that wrote it (xmin).
    Before an incremental model reads anything, `watermark_begin` notes the oldest
    transaction still running (every older one has finished, so the model's read sees it);
    `watermark_commit` keeps that note as the model's watermark when the model's own
    transaction commits (both are hooks inside that transaction: a failed build keeps
    the old watermark and the next build reads the same rows again). A lake row (or an
    upstream incremental table's row) written by a transaction at or after the watermark
    is new to the model: inserted or updated since its last build.

    Small inputs that can change under every row (seeds, the department list) are
    fingerprinted instead (`watermark_begin(fingerprint_of=[...])`): a different
    fingerprint from the last build's means "everything changed".

    Deleted lake rows leave no row to see: lakehouse.serving.mart_build builds with
    --full-refresh when the publish since the last build deleted any. -#}

{% macro watermark_table() -%}
    intermediate.mart_watermarks
{%- endmacro %}

{#- on-run-start: the table of watermarks (the transformer owns schema intermediate). -#}
{% macro create_watermark_table() %}
    create schema if not exists intermediate;
    create table if not exists {{ watermark_table() }} (
        model text primary key,
        built_from xid8,
        pending xid8,
        fingerprint text,
        pending_fingerprint text
    );
{% endmacro %}

{% macro _fingerprint_sql(relations) -%}
    {%- if relations -%}
    (select md5(string_agg(part, '|' order by part)) from (
        {%- for relation in relations %}
        select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as part
        from {{ relation }} as t
        {%- if not loop.last %} union all {% endif -%}
        {%- endfor %}
    ) as parts)
    {%- else -%}
    cast(null as text)
    {%- endif -%}
{%- endmacro %}

{#- pre-hook (inside the model's transaction, before its read) -#}
{% macro watermark_begin(fingerprint_of=[]) %}
    insert into {{ watermark_table() }} (model, pending, pending_fingerprint)
    values ('{{ this.identifier }}', pg_snapshot_xmin(pg_current_snapshot()), {{ _fingerprint_sql(fingerprint_of) }})
    on conflict (model) do update
        set pending = excluded.pending, pending_fingerprint = excluded.pending_fingerprint
{% endmacro %}

{#- post-hook (same transaction, after the model's rows are written) -#}
{% macro watermark_commit() %}
    update {{ watermark_table() }}
    set built_from = pending, fingerprint = pending_fingerprint
    where model = '{{ this.identifier }}'
{% endmacro %}

{#- true for a row of `alias` (a real table, not a view) written at or after this model's
    watermark. No watermark yet, or one so old (over 10^9 transactions) that 32-bit
    transaction ids could wrap around: every row counts as new. -#}
{% macro written_since_last_build(alias) -%}
    age({{ alias }}.xmin) <= (
        select coalesce(max(case
            when age(cast(cast(built_from as text)::numeric % 4294967296 as text)::xid)
                between 0 and 1000000000
                then age(cast(cast(built_from as text)::numeric % 4294967296 as text)::xid)
        end), 2147483647)
        from {{ watermark_table() }}
        where model = '{{ this.identifier }}'
    )
{%- endmacro %}

{#- true when the fingerprinted inputs differ from those of the model's last build -#}
{% macro fingerprint_changed() -%}
    coalesce((
        select fingerprint is distinct from pending_fingerprint
        from {{ watermark_table() }}
        where model = '{{ this.identifier }}'
    ), true)
{%- endmacro %}

{#- pre-hook of an incremental mart keyed on `column`: the rows of every changed key go
    (all of them when the fingerprinted inputs changed) before the model inserts the
    keys' rows anew (incremental_strategy 'append'). Deleting first also drops a key
    that has no rows any more, which delete+insert on the new rows alone would keep. -#}
{% macro delete_changed(column, changed_keys_sql) %}
    {%- if is_incremental() %}
    delete from {{ this }}
    where {{ _in_changed(column, changed_keys_sql) }}
    {%- else %}
    select 1
    {%- endif %}
{% endmacro %}

{#- a model's filter on the same keys -#}
{% macro only_changed(column, changed_keys_sql) -%}
    {%- if is_incremental() -%}
    {{ _in_changed(column, changed_keys_sql) }}
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- Entities / months of the supervision records written since the model's last build,
    with those a corrected record counted in before (prior_usccs / prior_months). -#}
{% macro changed_record_keys(column, prior_column) -%}
    select changed.{{ column }}
    from {{ ref('int_supervision_records_with_registry') }} as changed
    where {{ written_since_last_build('changed') }}
    union
    select prior.key
    from {{ ref('int_supervision_records_with_registry') }} as changed
    cross join lateral unnest(changed.{{ prior_column }}) as prior (key)
    where {{ written_since_last_build('changed') }}
{%- endmacro %}

{#- a null key is a key too (a record without a date has a null month) -#}
{% macro _in_changed(column, changed_keys_sql) -%}
    ({{ fingerprint_changed() }}
        or {{ column }} in ({{ changed_keys_sql }})
        or ({{ column }} is null and exists (
            select 1 from ({{ changed_keys_sql }}) as changed_key (key) where changed_key.key is null)))
{%- endmacro %}

{#- A data test's `where` on an incremental model keyed by whole groups (all rows of a
    changed key are rewritten together): only the rows its last build wrote, since a
    group's rows are all new or all as already tested. A full refresh writes every row. -#}
{% macro written_by_last_build_of(model) -%}
    age(xmin) <= (
        select coalesce(max(age(cast(cast(built_from as text)::numeric % 4294967296 as text)::xid)), 2147483647)
        from {{ watermark_table() }}
        where model = '{{ model }}'
    )
{%- endmacro %}
