{#- The span in which each credit fact counts for each (metric, window) a rule of the
    active rule version uses: [counts_from, counts_until). A windowed fact counts on day D
    when fact_date <= D < fact_date + window_years, i.e. it was decided in the window
    (D - window_years, D]; a list entry counts from its listed date until its removal date.
    least() ignores nulls in PostgreSQL, so an open list entry never stops counting. -#}
{% macro credit_fact_windows(facts, rules) %}
    select
        facts.uscc,
        facts.metric,
        metric_windows.window_years,
        facts.fact_date as counts_from,
        least(
            facts.valid_until,
            cast(facts.fact_date + make_interval(years => metric_windows.window_years) as date)
        ) as counts_until,
        facts.amount,
        facts.evidence_id
    from {{ facts }} as facts
    inner join (
        select distinct metric, window_years
        from {{ rules }}
        where version = {{ var('credit_rules_version') }}
    ) as metric_windows
        on metric_windows.metric = facts.metric
{% endmacro %}
