"""The serving layer: silver into PostgreSQL (`publish`, `warehouse`), the dbt
marts (`dbt_files`, `marts`, `mart_build`), one entity across districts
(`entity`) and the static HTML report (`report/`)."""
