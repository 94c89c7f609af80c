{{ lake_staging('random_draws') }}
