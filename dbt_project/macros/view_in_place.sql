{#- Views are replaced in place (CREATE OR REPLACE VIEW) whenever PostgreSQL
    allows it: the same columns, same names and types, new ones only at the end.
    dbt's default swaps in a new view and drops the old one with CASCADE, which
    drops every view built on it: a selected build (`lakehouse marts --select
    +fct_x`) then silently removed intermediate views outside the selection,
    and two threads cascading into the same dependent view deadlocked.
    A view whose columns changed incompatibly (a model edit) falls back to the
    swap; a full build rebuilds its dependents right after. -#}
{% materialization view, adapter='postgres' %}
  {%- set existing = load_cached_relation(this) -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set candidate = make_intermediate_relation(target) -%}
  {%- set backup = make_backup_relation(target, 'view' if existing is none else existing.type) -%}
  {{ drop_relation_if_exists(load_cached_relation(candidate)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup)) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('candidate') -%}
    {{ get_create_view_as_sql(candidate, sql) }}
  {%- endcall %}

  {%- if existing is not none and existing.is_view
        and columns_extend(adapter.get_columns_in_relation(existing),
                           adapter.get_columns_in_relation(candidate)) -%}
    {% call statement('main') -%}
      create or replace view {{ target }} as (
        {{ sql }}
      );
    {%- endcall %}
    {{ adapter.drop_relation(candidate) }}
  {%- else -%}
    {% call statement('main') -%} select 1 {%- endcall %}
    {%- if existing is not none -%}
      {{ adapter.rename_relation(existing, backup) }}
    {%- endif -%}
    {{ adapter.rename_relation(candidate, target) }}
  {%- endif -%}

  {% do apply_grants(target, config.get('grants'), should_revoke=should_revoke(existing, full_refresh_mode=True)) %}
  {% do persist_docs(target, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}


{#- True when `new` starts with `old`'s columns, same names and types, in order. -#}
{% macro columns_extend(old, new) %}
  {%- if old | length > new | length -%}{{ return(false) }}{%- endif -%}
  {%- for column in old -%}
    {%- set other = new[loop.index0] -%}
    {%- if column.name != other.name or column.data_type != other.data_type -%}{{ return(false) }}{%- endif -%}
  {%- endfor -%}
  {{ return(true) }}
{% endmacro %}
