{{ lake_staging('serious_violations') }}
