{{ lake_staging('departments') }}
