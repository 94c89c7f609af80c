"""When a marts build must be a --full-refresh: rows deleted from a lake table the
incremental models read (they see written rows by transaction id, never deleted ones)."""

from lakehouse.serving.mart_build import deletes_watched_rows


def test_a_deleted_record_or_entity_asks_for_a_full_refresh():
    assert deletes_watched_rows(["penalties: v3->v4 +2 -1"])
    assert deletes_watched_rows(["licences: v1->v2 +0 -0", "entities: v7->v9 +1 -3"])


def test_upserts_and_deletes_elsewhere_do_not():
    assert not deletes_watched_rows([])
    assert not deletes_watched_rows(["penalties: v3->v4 +20 -0", "entities: vNone->v0 +5 -0"])
    # promoted rows leave the quarantine: no incremental model reads it
    assert not deletes_watched_rows(["quarantine_rows: v3->v4 +0 -5", "ingest_runs: v2->v3 +4 -1"])
