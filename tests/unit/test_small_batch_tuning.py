"""The small-batch Spark settings: which apply when, that an override wins,
and that the session's own values come back (a session conf stands in for
Spark's: the rule is the project's, the settings are Spark's)."""

from __future__ import annotations

import pytest

from lakehouse.lake.spark import INTERPRET_TUNING, SMALL_BATCH_TUNING, small_batch_tuning, small_lake


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


def test_a_small_batch_interpreted_gets_every_setting_and_the_session_gets_its_own_back():
    spark = _Session(SESSION)
    with small_batch_tuning(spark, True, interpret=True) as applied:
        assert spark.conf.values == {**SESSION, **SMALL_BATCH_TUNING, **INTERPRET_TUNING}
        assert applied == {**SMALL_BATCH_TUNING, **INTERPRET_TUNING}
    assert spark.conf.values == SESSION      # codegen keys were unset before: unset again


def test_a_small_batch_not_interpreted_keeps_compiled_code():
    spark = _Session(SESSION)
    with small_batch_tuning(spark, True):
        assert spark.conf.values == {**SESSION, **SMALL_BATCH_TUNING}


def test_a_large_batch_changes_nothing():
    spark = _Session(SESSION)
    with small_batch_tuning(spark, False, interpret=True) as applied:
        assert applied == {} and spark.conf.values == SESSION


def test_an_override_wins_and_an_error_still_restores(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SPARK_SPARK_SQL_SHUFFLE_PARTITIONS_SMALL", "4")
    spark = _Session(SESSION)
    with pytest.raises(RuntimeError), small_batch_tuning(spark, True):
        assert spark.conf.values["spark.sql.shuffle.partitions"] == "4"
        raise RuntimeError("a failed batch")
    assert spark.conf.values == SESSION


LIMIT = 256 * 1024 * 1024


@pytest.mark.parametrize(("stored", "small"), [(0, True), (LIMIT, True), (LIMIT + 1, False), (None, False)])
def test_a_lake_is_small_up_to_the_limit_and_never_when_its_size_is_unknown(monkeypatch, stored, small):
    """None: Spark Connect, no JVM in this process to list the lake with."""
    from lakehouse.lake import delta

    asked = []
    monkeypatch.setattr(delta, "stored_bytes", lambda spark, layer: asked.append(layer) or stored)
    assert small_lake(_Session({})) is small
    assert asked == ["silver"]


def test_the_small_lake_limit_is_a_setting(monkeypatch):
    from lakehouse.lake import delta

    monkeypatch.setattr(delta, "stored_bytes", lambda spark, layer: 1000)
    monkeypatch.setenv("LAKEHOUSE_SMALL_LAKE_BYTES", "999")
    assert small_lake(_Session({})) is False
    monkeypatch.setenv("LAKEHOUSE_SMALL_LAKE_BYTES", "1000")
    assert small_lake(_Session({})) is True
