{{ lake_staging('website_filings') }}
