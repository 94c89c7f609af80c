{{ lake_staging('dual_notifications') }}
