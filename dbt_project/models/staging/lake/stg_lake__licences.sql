{{ lake_staging('licences') }}
