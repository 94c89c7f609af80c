{{ lake_staging('random_plans') }}
