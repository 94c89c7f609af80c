-- Schemas and roles of the warehouse. Idempotent; run by `lakehouse db start`.
--   lakehouse_loader       writes lake.* (the published silver tables)
--   lakehouse_transformer  dbt: reads lake.* (never the personal columns), writes staging/intermediate/marts
--   lakehouse_analyst      reads marts.* only
--   lakehouse_dashboard    reads the contracted marts only (granted per model by dbt)
create schema if not exists lake;
create schema if not exists marts;

do $$
declare r text;
begin
  foreach r in array array['lakehouse_loader', 'lakehouse_transformer', 'lakehouse_analyst', 'lakehouse_dashboard']
  loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I login', r);
    end if;
  end loop;
end $$;

grant usage, create on schema lake to lakehouse_loader;
grant usage on schema lake to lakehouse_transformer;
do $$ begin
  execute format('grant create on database %I to lakehouse_transformer', current_database());
end $$;
grant usage on schema marts to lakehouse_analyst, lakehouse_dashboard;
-- Nobody but the owner and the loader sees lake.*: analysts and dashboards
-- cannot read personal data anywhere because they cannot read lake at all.
revoke all on schema lake from public;
revoke all on schema marts from public;
grant usage, create on schema marts to lakehouse_transformer;
