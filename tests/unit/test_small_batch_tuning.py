"""The small-batch Spark settings: which apply when, that an override wins,
and that the session's own values come back (a session conf stands in for
Spark's: the rule is the project's, the settings are Spark's)."""

from __future__ import annotations

import pytest

from lakehouse.spark import INTERPRET_MAX_LAKE_BYTES, INTERPRET_TUNING, SMALL_BATCH_TUNING, small_batch_tuning


class _Conf:
    def __init__(self, values: dict[str, str]):
        self.values = dict(values)

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value):
        self.values[key] = value

    def unset(self, key):
        self.values.pop(key, None)


class _Session:
    def __init__(self, values: dict[str, str]):
        self.conf = _Conf(values)


SESSION = {"spark.sql.adaptive.enabled": "true", "spark.sql.shuffle.partitions": "8"}


def test_a_small_batch_on_a_small_lake_gets_every_setting_and_the_session_gets_its_own_back():
    spark = _Session(SESSION)
    with small_batch_tuning(spark, True, lake_bytes=1024) as applied:
        assert spark.conf.values == {**SESSION, **SMALL_BATCH_TUNING, **INTERPRET_TUNING}
        assert applied == {**SMALL_BATCH_TUNING, **INTERPRET_TUNING}
    assert spark.conf.values == SESSION      # codegen keys were unset before: unset again


def test_a_large_lake_or_an_unknown_one_keeps_compiled_code():
    for lake_bytes in (INTERPRET_MAX_LAKE_BYTES + 1, None):
        spark = _Session(SESSION)
        with small_batch_tuning(spark, True, lake_bytes):
            assert spark.conf.values == {**SESSION, **SMALL_BATCH_TUNING}


def test_a_large_batch_changes_nothing():
    spark = _Session(SESSION)
    with small_batch_tuning(spark, False, lake_bytes=0) as applied:
        assert applied == {} and spark.conf.values == SESSION


def test_an_override_wins_and_an_error_still_restores(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SPARK_SPARK_SQL_SHUFFLE_PARTITIONS_SMALL", "4")
    spark = _Session(SESSION)
    with pytest.raises(RuntimeError), small_batch_tuning(spark, True, lake_bytes=0):
        assert spark.conf.values["spark.sql.shuffle.partitions"] == "4"
        raise RuntimeError("a failed batch")
    assert spark.conf.values == SESSION
