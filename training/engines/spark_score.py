"""The CRM export on Spark: churn, LTV, segment and top-k items for every customer.

* Features: :mod:`training.engines.spark_features`, as of the day after the
  last line (the service's clock, as :func:`serving.snapshot.load_snapshot`).
* Model inputs per shard: :func:`serving.model_inputs.tabular_frame` (the BTYD
  outputs of the bundle's fitted BG/NBD and Gamma-Gamma).
* Churn and LTV: ``mlflow.pyfunc.spark_udf`` on the registered versions that
  the alias points to (``env_manager="local"``); a model folder runs the same
  pyfunc class (:class:`training.pyfunc.BundleModel`) in a pandas UDF.
* Top-k: :mod:`training.engines.spark_recs` (item side broadcast, each
  shard's users' model state sent to that shard alone).
* Output: partitioned Parquet (a folder), or a JDBC table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.training.engines.spark_session import arrow_safe
from kizuna.training.engines.spark_shards import SHARD

KNOWN = "__in_customers_table_{kind}"


def score(
    source: str,
    *,
    alias: str = "champion",
    out: str,
    k: int = 10,
    bands: tuple[float, float] = (0.3, 0.6),
    data: Any = None,
    settings: dict | None = None,
    master: str | None = None,
    experiment: str | None = None,
    jdbc_table: str = "customer_scores",
    quiet: bool = False,
    candidate_pool: int | None = None,
) -> dict:
    """Score every customer with the served model set on Spark and write the export.

    Parameters
    ----------
    source, alias, experiment
        ``"registry"`` (MLflow aliases of ``experiment``) or a model folder, as
        ``kizuna serve``.
    data
        The experiment's ``data:`` (:class:`training.config.DataConfig`): the
        lines to score, read with Spark (the pandas engine reads the snapshot
        that training wrote from the same data instead).
    out
        A folder for partitioned Parquet, or a ``jdbc:`` URL (table ``jdbc_table``).
    candidate_pool
        ``scoring.candidate_pool`` of the experiment file: ``None`` for exact
        top-k (see :func:`training.batch_score.score_chunks`).
    k
        Items per customer in the recommendations.
    bands
        The risk band thresholds, low then high.
    settings
        Spark settings, or None.
    master
        The Spark master, or None.
    jdbc_table
        The table written to for a JDBC ``out``.
    quiet
        Whether to hide progress.

    Returns
    -------
    dict
        ``rows``, ``out``, ``model_versions``, ``as_of``.
    """
    from kizuna.training.engines.spark_session import require_pyspark

    require_pyspark()  # one line saying how to get it, before the first pyspark import
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from kizuna.serving.live import load_models, prepare_models
    from kizuna.serving.model_inputs import model_frame
    from kizuna.training.data import load_tables
    from kizuna.training.engines import spark_engine
    from kizuna.training.engines.spark_features import customer_features
    from kizuna.training.engines.spark_recs import recommendations
    from kizuna.training.progress import step

    if data is None or data.transactions is None:
        raise KizunaInputError(
            "the Spark engine scores the data it reads: give the experiment file (-c)"
        )
    with step(f"loading models ({source}, {alias})", quiet=quiet):
        models = load_models(source, alias=alias, experiment=experiment)
        prepare_models(models)
    name = models.experiment.name if models.experiment is not None else experiment
    validated = spark_engine.validate(
        data, settings=settings, master=master, quiet=quiet, experiment=name or None
    )
    kept = validated.kept  # read from the validation's persisted output, still by shard
    last = kept.filter(~F.col(s.IS_RETURN)).agg(F.max(s.TIMESTAMP)).collect()[0][0]
    if last is None:
        raise KizunaInputError("the data source holds no purchases: nothing to score")
    as_of = pd.Timestamp(last).floor("D") + pd.Timedelta(days=1)
    items, customers = load_tables(data)
    bundles = {kind: b for kind in ("churn", "ltv") if (b := getattr(models, kind)) is not None}
    for bundle in bundles.values():
        if bundle.mode == "contractual":  # the customers table and its model columns, checked
            model_frame(pd.DataFrame(), bundle, customers)
    unit = next((b.btyd_unit for b in bundles.values()), "W")
    with step(f"features as of {as_of.date()} on Spark", quiet=quiet):
        feats = customer_features(kept, as_of, customers=customers, items=items, btyd_unit=unit)
        # One task per core, not one per shuffle partition: most of the 200 are
        # empty, yet each would start a Python worker for the features' last step
        # (0.1-0.7 s apiece, measured at 1M lines).
        cores = kept.sparkSession.sparkContext.defaultParallelism
        frame = feats.sharded.coalesce(cores).persist(StorageLevel.MEMORY_AND_DISK)
    versions = {
        kind: models.versions.get(kind) if getattr(models, kind) is not None else None
        for kind in ("recommender", "churn", "ltv")
    }
    scored = _model_scores(frame, models, bundles, source, customers, experiment, as_of)
    if models.recommender is not None:
        recs = recommendations(kept, frame, models.recommender, items, as_of, k, candidate_pool)
        # Kept: the export's schema probe reads a few rows through the join, which
        # would otherwise recommend for whole shards once more.
        recs = recs.persist(StorageLevel.MEMORY_AND_DISK)
        scored = scored.join(recs, on=s.CUSTOMER_ID, how="left")
    export = _export(scored, versions, as_of, bands)
    with step(f"writing {out}", quiet=quiet):
        if out.startswith("jdbc:"):
            export.write.mode("overwrite").jdbc(out, jdbc_table)
        else:
            export.write.mode("overwrite").partitionBy("segment").parquet(out)
    rows = frame.count()
    return {
        "out": out,
        "rows": rows,
        "model_versions": versions,
        "as_of": str(as_of),
    }


def _model_scores(
    frame: Any,
    models: Any,
    bundles: dict,
    source: str,
    customers: pd.DataFrame | None,
    experiment: str | None,
    as_of: pd.Timestamp,
) -> Any:
    """Features plus ``churn_probability``, ``predicted_value``, ``p_alive``, ``expected_orders``."""
    from pyspark.sql import functions as F

    from kizuna.models.btyd_features import EXPECTED_PURCHASES, P_ALIVE
    from kizuna.serving.model_inputs import tabular_frame
    from kizuna.training.engines.spark_frames import category_dtypes, from_spark_frame

    spark = frame.sparkSession
    categories = category_dtypes(customers)
    # Only a contractual model reads the customers table in the shards.
    contractual = any(b.mode == "contractual" for b in bundles.values())
    shared = spark.sparkContext.broadcast((bundles, customers if contractual else None))
    base = [c for c in frame.columns if c != SHARD]
    inputs = {kind: [f"{kind}__{c}" for c in b.feature_columns] for kind, b in bundles.items()}
    extra = [(P_ALIVE, "p_alive"), (EXPECTED_PURCHASES, "expected_orders")]

    from kizuna.serving.next_order import FIELDS, bundle_next_order

    # Next-order predictions from the BG/NBD of LTV's bundle, else churn's (serving.next_order).
    btyd_kind = next((k for k in ("ltv", "churn") if getattr(bundles.get(k), "bgnbd", None)), None)

    def model_frames(batches: Any) -> Any:
        for batch in batches:
            feats = from_spark_frame(batch[base], categories)
            out = batch[base].copy()
            shared_bundles, table = shared.value
            for kind, bundle in shared_bundles.items():
                mf = contractual_rows(feats, bundle, table, out, kind)
                mf = tabular_frame(feats, bundle) if mf is None else mf
                if kind == btyd_kind:
                    predicted = bundle_next_order(bundle, mf, as_of)
                    for col in FIELDS:
                        out[col] = predicted[col].to_numpy()
                for col in bundle.feature_columns:
                    out[f"{kind}__{col}"] = _plain(mf[col])
                if kind == "ltv":
                    for col, name in extra:
                        out[name] = mf[col].to_numpy(float) if col in mf.columns else np.nan
            yield arrow_safe(out)

    from kizuna.training.engines.spark_frames import probe_schema

    schema = probe_schema(frame.select(*base), None, model_frames)
    wide = frame.select(*base).mapInPandas(model_frames, schema)
    for kind, cols in inputs.items():
        udf = _predictor(spark, kind, models, bundles[kind], source, experiment)
        named = [F.col(c).alias(c.split("__", 1)[1]) for c in cols]
        target = "churn_probability" if kind == "churn" else "predicted_value"
        wide = wide.withColumn(target, udf(F.struct(*named)))
        known = KNOWN.format(kind=kind)
        if known in wide.columns:  # contractual: only customers of the customers table
            wide = wide.withColumn(target, F.when(F.col(known), F.col(target))).drop(known)
    return wide.drop(*[c for cols in inputs.values() for c in cols])


def contractual_rows(
    feats: pd.DataFrame, bundle: Any, customers: pd.DataFrame | None, out: pd.DataFrame, kind: str
) -> pd.DataFrame | None:
    """A contractual model's rows of the customers table, aligned with ``feats``; else None.

    Marks in ``out[KNOWN]`` which customers the table has (the others get no
    score, as in :func:`training.batch_score.score_chunks`).

    Parameters
    ----------
    feats
        The scored customers' features, shape (n, k).
    bundle
        The model bundle.
    customers
        The validated customers table, or None.
    out
        The output rows, shape (n, m); its ``KNOWN`` column is set.
    kind
        The model kind.

    Returns
    -------
    pandas.DataFrame or None
    """
    from kizuna.serving.model_inputs import model_frame

    if bundle.mode != "contractual":
        return None
    table = model_frame(feats, bundle, customers)
    out[KNOWN.format(kind=kind)] = feats.index.isin(table.index)
    return table.reindex(feats.index)


def _plain(values: pd.Series) -> np.ndarray:
    """Model input column as Spark can carry it, by position: categoricals as text.

    An array, not a Series: ``values`` is indexed by customer id and the
    batch it goes into by row number, so a Series would be aligned by label
    into all-missing values (every category read as unknown by the model).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("string").to_numpy(dtype=object, na_value=None)
    return values.to_numpy()


def _predictor(
    spark: Any, kind: str, models: Any, bundle: Any, source: str, experiment: str | None
) -> Any:
    """A Spark UDF of the model: the registered pyfunc, or the folder's bundle in it."""
    from kizuna.serving import model_registry, model_store

    if source == model_store.REGISTRY:
        import mlflow.pyfunc

        name = model_store.registered_name(model_registry.resolve_experiment(experiment), kind)
        uri = f"models:/{name}/{models.versions[kind]}"
        return mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
    from pyspark.sql.functions import pandas_udf

    from kizuna.training.pyfunc import BundleModel

    model = BundleModel(kind)
    model.bundle = bundle
    shared = spark.sparkContext.broadcast(model)

    @pandas_udf("double")
    def predict(rows: pd.DataFrame) -> pd.Series:
        out = shared.value.predict(None, rows)
        return pd.Series(out.iloc[:, 0].to_numpy(dtype=float))

    return predict


def _export(scored: Any, versions: dict, as_of: pd.Timestamp, bands: tuple[float, float]) -> Any:
    """The export rows in :data:`training.export_schema.COLUMNS`, by the same ``conform``."""
    from kizuna.serving.scoring import risk_band
    from kizuna.training.engines.spark_frames import probe_schema
    from kizuna.training.export_schema import COLUMNS, conform

    text = ",".join(f"{kind}={v}" for kind, v in versions.items() if v is not None)
    keep = [c for c in COLUMNS if c in scored.columns]

    def rows(batches: Any) -> Any:
        for batch in batches:
            out = batch[keep].copy()
            if "churn_probability" in out.columns:
                proba = out["churn_probability"].to_numpy(dtype=float)
                out["risk_band"] = [None if np.isnan(p) else risk_band(p, bands) for p in proba]
            out["model_versions"] = text
            out["as_of"] = as_of
            yield arrow_safe(conform(out))

    return scored.select(*keep).mapInPandas(rows, probe_schema(scored.select(*keep), None, rows))
