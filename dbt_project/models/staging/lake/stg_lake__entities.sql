{#- The registry. `name` is staged as entity_name, as every feed calls it; the legal
    representative's id number only masked (clear values: private.entities); name_keys,
    the keys records are matched on, stays in the lake. -#}
{{ lake_staging(
    'entities',
    renamed={'name': 'entity_name'},
    masked={'legal_representative_id_number': 'legal_representative_id_masked'},
    left_out=['name_keys'],
) }}
