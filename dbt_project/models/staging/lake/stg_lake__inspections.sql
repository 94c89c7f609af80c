{{ lake_staging('inspections') }}
