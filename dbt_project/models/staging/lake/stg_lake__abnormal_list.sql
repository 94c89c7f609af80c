{{ lake_staging('abnormal_list') }}
