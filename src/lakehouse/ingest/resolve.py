"""Entity resolution and reference checks, as Spark joins against silver.

Order (schemas/rules.yaml): uscc -> reg_no -> name -> unresolved. The
district a record is held in and the entity's registered district are both
kept; the registered district always comes from the registry, never from
positions 3-8 of the USCC (they name the registering authority).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import Rule
from lakehouse.ingest.staging import REASONS, ROW_ID, RULES


def add_flag(df: DataFrame, condition, flag: str) -> DataFrame:
    return df.withColumn("flags", F.when(condition, F.array_union("flags", F.array(F.lit(flag))))
                         .otherwise(F.col("flags")))


def add_rule(df: DataFrame, condition, rule: str, reason) -> DataFrame:
    return (df.withColumn(RULES, F.when(condition, F.array_union(RULES, F.array(F.lit(rule))))
                          .otherwise(F.col(RULES)))
              .withColumn(REASONS, F.when(condition, F.concat(REASONS, F.array(reason)))
                          .otherwise(F.col(REASONS))))


class RegistryIndex:
    """The registry's lookup tables (by USCC, by registration number, by
    normalised name), built once per run and cached: every table of the
    batch is resolved against the same registry."""

    def __init__(self, spark, registry: DataFrame | None):
        if registry is None:
            registry = spark.createDataFrame(
                [], "uscc string, reg_no string, registered_district string, name_keys array<string>")
        reg = registry.select("uscc", "reg_no", "registered_district", "name_keys")
        self.by_uscc = reg.select(F.col("uscc").alias("_m_uscc"),
                                  F.col("registered_district").alias("_m_uscc_district"),
                                  F.element_at("name_keys", 1).alias("_m_uscc_name")).cache()
        self.by_regno = (reg.where(F.col("reg_no").isNotNull())
                         .groupBy(F.col("reg_no").alias("_m_regno"))
                         .agg(F.count("*").alias("_n"), F.first("uscc").alias("_m_regno_uscc"),
                              F.first("registered_district").alias("_m_regno_district"),
                              F.first(F.element_at("name_keys", 1)).alias("_m_regno_name"))
                         .where("_n = 1").drop("_n").cache())
        self.names = (reg.select("uscc", "registered_district", F.element_at("name_keys", 1).alias("_current"),
                                 F.explode("name_keys").alias("_key")).distinct().cache())

    def unpersist(self) -> None:
        for df in (self.by_uscc, self.by_regno, self.names):
            df.unpersist()


def resolve_entities(df: DataFrame, index: RegistryIndex, rules: Mapping[str, Rule],
                     small_batch: bool = False) -> DataFrame:
    """Fill uscc, resolved_by, registered_district; flag uscc_check_exception,
    entity_not_in_registry, name_differs; rule uscc_unresolved. A broken
    rule's reason is the normaliser's form, `rule: field: detail`, the detail
    being the value sent and the rule's reason and fix from `rules`
    (schemas/rules.yaml).

    `small_batch`: a day's rows against a registry of millions. The registry
    side is first cut down to the batch's own identifiers (a broadcast
    semi-join over the cached index) and then broadcast back, so that no join
    shuffles the whole registry."""
    by_uscc, by_regno, names = index.by_uscc, index.by_regno, index.names
    if small_batch:
        by_uscc = F.broadcast(_only(by_uscc, "_m_uscc", df, "_uscc_norm"))
        by_regno = F.broadcast(_only(by_regno, "_m_regno", df, "_reg_no"))
        names = F.broadcast(_only(names, "_key", df, "_name_key"))
    out = (df.join(by_uscc, df["_uscc_norm"] == by_uscc["_m_uscc"], "left")
             .join(by_regno, df["_reg_no"] == by_regno["_m_regno"], "left"))

    out = out.join(_by_name(out, names), ROW_ID, "left")

    check_ok = F.coalesce(F.col("_uscc_check_ok"), F.lit(False))
    by = (F.when(check_ok | F.col("_m_uscc").isNotNull(), F.lit("uscc"))
           .when(F.col("_m_regno").isNotNull(), F.lit("reg_no"))
           .when(F.col("_m_name_uscc").isNotNull(), F.lit("name"))
           .otherwise(F.lit("unresolved")))
    out = out.withColumn("resolved_by", by)
    out = out.withColumn("uscc", F.when(F.col("resolved_by") == "uscc", F.col("_uscc_norm"))
                         .when(F.col("resolved_by") == "reg_no", F.col("_m_regno_uscc"))
                         .when(F.col("resolved_by") == "name", F.col("_m_name_uscc")))
    out = out.withColumn("registered_district",
                         F.when(F.col("resolved_by") == "uscc", F.col("_m_uscc_district"))
                          .when(F.col("resolved_by") == "reg_no", F.col("_m_regno_district"))
                          .when(F.col("resolved_by") == "name", F.col("_m_name_district")))
    current_name = (F.when(F.col("resolved_by") == "uscc", F.col("_m_uscc_name"))
                     .when(F.col("resolved_by") == "reg_no", F.col("_m_regno_name"))
                     .when(F.col("resolved_by") == "name", F.col("_m_name_current")))
    out = add_flag(out, ~check_ok & F.col("_m_uscc").isNotNull(), "uscc_check_exception")
    out = add_flag(out, check_ok & F.col("_m_uscc").isNull(), "entity_not_in_registry")
    out = add_flag(out, current_name.isNotNull() & F.col("_name_key").isNotNull()
                   & (current_name != F.col("_name_key")), "name_differs")
    missing_id = (F.coalesce(F.col("_uscc_norm"), F.lit("")) == "") & F.col("_name_key").isNull()
    out = add_rule(out, (F.col("resolved_by") == "unresolved") & ~missing_id, "uscc_unresolved",
                   F.concat(F.lit("uscc_unresolved: uscc: '"), F.coalesce(F.col("uscc_as_sent"), F.lit("")),
                            F.lit(f"': {rules['uscc_unresolved'].explained()}")))
    out = add_rule(out, missing_id, "required_missing",
                   F.lit(f"required_missing: uscc, name: neither was sent; {rules['required_missing'].explained()}"))
    helper_cols = [c for c in out.columns if c.startswith("_m_")]
    return out.drop(*helper_cols)


def _by_name(rows: DataFrame, names: DataFrame) -> DataFrame:
    """ROW_ID -> the registry entity (uscc, district, current name) a row with
    neither a matching USCC nor registration number resolves to by its name:
    the only entity of that name, or the only one in the row's holding district."""
    need_name = rows.where(F.col("_m_uscc").isNull() & ~F.coalesce(F.col("_uscc_check_ok"), F.lit(False))
                           & F.col("_m_regno").isNull() & F.col("_name_key").isNotNull())
    cand = (need_name.select(ROW_ID, "_name_key", "_holding_district").distinct()
            .join(names, F.col("_name_key") == names["_key"]))
    return (cand.withColumn("_in_district", F.col("registered_district") == F.col("_holding_district"))
              .groupBy(ROW_ID)
              .agg(F.count("*").alias("_n"),
                   F.sum(F.col("_in_district").cast("int")).alias("_n_district"),
                   F.first("uscc").alias("_any_uscc"), F.first("registered_district").alias("_any_district"),
                   F.first("_current").alias("_any_name"),
                   F.first(F.when(F.col("_in_district"), F.col("uscc")), ignorenulls=True).alias("_d_uscc"),
                   F.first(F.when(F.col("_in_district"), F.col("registered_district")),
                           ignorenulls=True).alias("_d_district"),
                   F.first(F.when(F.col("_in_district"), F.col("_current")), ignorenulls=True).alias("_d_name"))
              .select(ROW_ID,
                      F.when(F.col("_n") == 1, F.col("_any_uscc"))
                       .when(F.col("_n_district") == 1, F.col("_d_uscc")).alias("_m_name_uscc"),
                      F.when(F.col("_n") == 1, F.col("_any_district"))
                       .when(F.col("_n_district") == 1, F.col("_d_district")).alias("_m_name_district"),
                      F.when(F.col("_n") == 1, F.col("_any_name"))
                       .when(F.col("_n_district") == 1, F.col("_d_name")).alias("_m_name_current")))


def _only(index: DataFrame, index_key: str, batch: DataFrame, batch_key: str) -> DataFrame:
    keys = F.broadcast(batch.select(F.col(batch_key).alias("_k")).where("_k IS NOT NULL").distinct())
    return index.join(keys, index[index_key] == keys["_k"], "left_semi")


def flag_unknown_departments(df: DataFrame, departments: DataFrame | None, columns: list[str]) -> DataFrame:
    """Flag unknown_department when a department reference is not in the list."""
    if not columns:
        return df
    known = (departments.select(F.col("department_code").alias("_known")).distinct()
             if departments is not None else df.sparkSession.createDataFrame([], "_known string"))
    for col in columns:
        joined = df.join(F.broadcast(known), df[col] == known["_known"], "left")
        df = add_flag(joined, F.col(col).isNotNull() & F.col("_known").isNull(), "unknown_department").drop("_known")
    return df
