{{ lake_staging('penalties') }}
