-- Schemas, roles and grants of the warehouse. Idempotent; run as the admin
-- (the only superuser) by `lakehouse db start`. Each role has its job only:
--   lakehouse_loader           writes lake.* (the published silver tables); no DDL
--   lakehouse_transformer      dbt: reads lake.*, owns staging/intermediate/marts
--   lakehouse_analyst          reads marts.* only
--   lakehouse_dashboard        reads the contracted marts only (granted per model by dbt)
--   lakehouse_privacy_officer  reads private.*: the clear personal data
--   lakehouse_airflow          owns Airflow's metadata database (lakehouse airflow-init); nothing here
-- None is superuser, creates roles or databases, or has pg_execute_server_program
-- (COPY ... PROGRAM) or pg_read/write_server_files.
create schema if not exists lake;
create schema if not exists marts;
create schema if not exists private;

do $$
declare r text;
begin
  foreach r in array array['lakehouse_loader', 'lakehouse_transformer', 'lakehouse_analyst',
                           'lakehouse_dashboard', 'lakehouse_privacy_officer', 'lakehouse_airflow']
  loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I login', r);
    end if;
    execute format('alter role %I login nosuperuser nocreatedb nocreaterole noreplication nobypassrls', r);
    execute format('revoke pg_execute_server_program, pg_read_server_files, pg_write_server_files from %I', r);
  end loop;
end $$;

-- PUBLIC: nothing but connecting is granted by default; only the project's roles connect
do $$ begin
  execute format('revoke all on database %I from public', current_database());
  execute format('grant connect on database %I to lakehouse_loader, lakehouse_transformer, lakehouse_analyst, '
                 'lakehouse_dashboard, lakehouse_privacy_officer', current_database());
  execute format('grant temporary on database %I to lakehouse_loader, lakehouse_transformer', current_database());
  -- dbt creates the staging and intermediate schemas
  execute format('grant create on database %I to lakehouse_transformer', current_database());
end $$;
-- The incremental marts look up "the keys written since the last build" inside an OR
-- (macros/incremental_watermark.sql), which PostgreSQL can only run as a subplan: hashed
-- when its estimated size fits in work_mem, else re-run for every row (a day's build of
-- the city year took minutes on the default 4 MB instead of seconds).
alter role lakehouse_transformer set work_mem = '256MB';
revoke create on schema public from public;
revoke all on schema lake, marts, private from public;
do $$
declare s text;
begin
  foreach s in array array['staging', 'intermediate'] loop
    if exists (select 1 from pg_namespace where nspname = s) then
      execute format('revoke all on schema %I from public', s);
    end if;
  end loop;
end $$;

grant usage on schema lake to lakehouse_loader, lakehouse_transformer;
grant usage, create on schema marts to lakehouse_transformer;
grant usage on schema marts to lakehouse_analyst, lakehouse_dashboard;
grant usage on schema private to lakehouse_privacy_officer;

-- what the pipeline records about each marts build (written by the loader, read by dbt)
create table if not exists lake.mart_builds (
  built_at timestamptz primary key default now(), published text[], stale_sources jsonb, status text);
alter table lake.mart_builds add column if not exists dbt_warnings jsonb;
grant select, insert on lake.mart_builds to lakehouse_loader;
grant select on lake.mart_builds to lakehouse_transformer;

-- personal data (see warehouse.personal_ddl): the HMAC key's padded halves (set by
-- warehouse.bootstrap from the secrets file), masking and keyed-hash functions
create table if not exists private.pseudonym_key (id int primary key check (id = 1), ipad bytea, opad bytea);
revoke all on private.pseudonym_key from lakehouse_privacy_officer;
create table if not exists private.personal_fields (table_name text, field text, primary key (table_name, field));

-- 18 characters (an ID-card number) -> 310114********4990; short values keep first and last character
create or replace function private.mask_text(v text) returns text language sql immutable as $$
  select case when v is null then null
              when length(v) >= 12 then left(v, 6) || repeat('*', length(v) - 10) || right(v, 4)
              when length(v) >= 3 then left(v, 1) || repeat('*', length(v) - 2) || right(v, 1)
              else left(v, 1) || repeat('*', length(v) - 1) end $$;
create or replace function private.mask_array(v text[]) returns text[] language sql immutable as $$
  select case when v is null then null
              else array(select private.mask_text(x) from unnest(v) with ordinality as u(x, i) order by i) end $$;
create or replace function private.pseudonym_text(v text) returns text language sql stable as $$
  select case when v is null then null
              else encode(sha256(k.opad || sha256(k.ipad || convert_to(v, 'UTF8'))), 'hex') end
  from private.pseudonym_key k where k.id = 1 $$;
create or replace function private.pseudonym_array(v text[]) returns text[] language sql stable as $$
  select case when v is null then null
              else array(select private.pseudonym_text(x) from unnest(v) with ordinality as u(x, i) order by i) end $$;
-- the quarantine's raw rows: mask the values of the fields that are personal columns
create or replace function private.mask_fields(tbl text, raw jsonb) returns jsonb language sql stable as $$
  select case when raw is null or jsonb_typeof(raw) <> 'object' then raw else
    coalesce((select jsonb_object_agg(e.key, case when f.field is null then e.value
                                                  else to_jsonb(private.mask_text(e.value #>> '{}')) end)
              from jsonb_each(raw) e
              left join private.personal_fields f on f.table_name = tbl and f.field = e.key), '{}'::jsonb) end $$;
revoke all on all functions in schema private from public;
