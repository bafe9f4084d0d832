"""Customer features and labels on Spark, through the same pure functions as pandas.

Validated lines are sharded by customer; each shard runs
:func:`features.pipeline.customer_base_features` (behaviour vector, BTYD
summary) and :func:`features.pipeline.customer_labels` in pandas. The quintile
scores need the whole population: their cut points are exact order statistics
over all customers (:func:`training.engines.spark_stats.order_statistics`), and
every customer is then scored with them by Spark expressions that copy
:func:`features.pipeline.with_rfm_scores` (:func:`rfm_score_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.pipeline import (
    behaviour_rfm_scorer,
    customer_base_features,
    customer_labels,
    rfm_score_inputs,
)
from kizuna.features.rfm_scoring import quintile_ranks
from kizuna.training.engines.spark_frames import (
    category_dtypes,
    from_spark_frame,
    probe_schema,
    to_spark_frame,
    typed_lines,
)
from kizuna.training.engines.spark_shards import SHARD
from kizuna.training.engines.spark_stats import order_statistics_of

INPUT_PREFIX = "__in_"  # the values each RFM score ranks, for the population's cut points
SCORE_INPUTS = tuple(INPUT_PREFIX + c for c in (s.R_SCORE, s.F_SCORE, s.M_SCORE))
LABELS = (s.CHURN, s.FUTURE_VALUE)


@dataclass
class SparkFeatures:
    """``frame``: one row per customer (``customer_id`` column, then the features, as
    :func:`features.pipeline.customer_features`); ``labels``: ``customer_id``,
    ``churn``, ``future_value`` for the churn population (None without a horizon);
    ``scorer``: the RFM scorer with the population's cut points."""

    frame: Any
    labels: Any
    scorer: Any
    sharded: Any = None  # ``frame`` with ``__shard``, for joins by shard


def customer_features(
    kept: Any,
    as_of: pd.Timestamp,
    *,
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    btyd_unit: str = "W",
    horizon_days: int | None = None,
    lookback_days: int = 365,
) -> SparkFeatures:
    """The feature frame (and labels) of every customer, on Spark.

    Parameters
    ----------
    kept
        Spark DataFrame of validated lines with ``__shard`` (from
        :func:`training.engines.spark_validate.validate`, partitioned by it: no
        shuffle here): every line of a customer in one shard.
    customers, items
        Validated optional tables (pandas, as :func:`training.data.load_tables`
        returns them), broadcast to every shard.
    as_of
        The snapshot's instant.
    btyd_unit
        ``"W"`` or ``"D"``.
    horizon_days
        The label window, or None for no labels.
    lookback_days
        Activity window of the labelled population.

    Returns
    -------
    SparkFeatures
    """
    from pyspark import StorageLevel

    spark = kept.sparkSession
    tables = spark.sparkContext.broadcast((customers, items))

    def base(shard: pd.DataFrame) -> pd.DataFrame:
        cust, itm = tables.value
        out = shard_features(
            typed_lines(shard), as_of, cust, itm, btyd_unit, horizon_days, lookback_days
        )
        out[SHARD] = shard[SHARD].iloc[0] if len(shard) else 0
        return out

    probe = probe_schema(kept, base, floats=(*SCORE_INPUTS, s.FUTURE_VALUE))
    out = kept.groupBy(SHARD).applyInPandas(base, probe).persist(StorageLevel.MEMORY_AND_DISK)
    return scored_features(out, horizon_days is not None)


def shard_features(
    tx: pd.DataFrame,
    as_of: pd.Timestamp,
    customers: pd.DataFrame | None,
    items: pd.DataFrame | None,
    btyd_unit: str,
    horizon_days: int | None,
    lookback_days: int,
) -> pd.DataFrame:
    """One shard's customers: base features, score inputs (``__in_*``) and labels.

    ``tx``: the shard's validated lines. Shape (customers in the shard, columns),
    ``customer_id`` as a column, categoricals as text (Spark's layout).

    Parameters
    ----------
    tx
        The shard's validated lines, shape (n, k).
    as_of
        The snapshot's instant.
    customers, items
        The validated customers and items tables, or None.
    btyd_unit
        ``"W"`` or ``"D"``.
    horizon_days
        The label window, or None for no labels.
    lookback_days
        Activity window of the labelled population.

    Returns
    -------
    pandas.DataFrame
        Shape (customers in the shard, columns).
    """
    frame = customer_base_features(tx, as_of, customers=customers, items=items, btyd_unit=btyd_unit)
    frame = frame.join(rfm_score_inputs(frame).add_prefix(INPUT_PREFIX))
    if horizon_days is not None:
        # The driver checked the window against the whole log (spark_engine); a shard's
        # last line is not where the log ends.
        window_end = as_of + pd.Timedelta(days=horizon_days)
        labels = customer_labels(
            tx, as_of, horizon_days=horizon_days, lookback_days=lookback_days, data_end=window_end
        )
        frame = frame.join(labels[list(LABELS)], how="left")
    return to_spark_frame(frame)


def scored_features(out: Any, labelled: bool, *, n: int | None = None) -> SparkFeatures:
    """RFM scores from the population's cut points, then the features and labels frames.

    ``out``: one row per customer with ``customer_id``, the base features, the
    score inputs (``__in_*``), the labels if ``labelled`` and ``__shard``;
    persisted, as it is read once per output. ``n``: its row count, when the
    caller knows it (else counted).

    Parameters
    ----------
    out
        One row per customer (Spark DataFrame).
    labelled
        Whether it holds labels.
    n
        Its row count, or None.

    Returns
    -------
    SparkFeatures
    """
    from pyspark.sql import functions as F

    if n is None:
        n = out.count()
    scorer = behaviour_rfm_scorer()
    # The population's cut points, as RFMScorer.fit computes them from all customers.
    ranks = quintile_ranks(max(n, 1))
    cuts = order_statistics_of(out, list(SCORE_INPUTS), ranks, n)
    scorer.cuts_ = {col[len(INPUT_PREFIX) :]: cuts[col] for col in SCORE_INPUTS}
    scorer.n_customers_ = n
    feature_cols = [c for c in out.columns if c not in (*SCORE_INPUTS, *LABELS, SHARD)]

    # Spark expressions, not a Python UDF: a UDF would queue every row's other
    # feature columns in the JVM while its inputs make the round trip to Python.
    sharded = out.select(*feature_cols, *rfm_score_columns(scorer), SHARD)
    frame = sharded.drop(SHARD)
    labels = None
    if labelled:
        labels = out.filter(F.col(s.CHURN).isNotNull()).select(
            s.CUSTOMER_ID, F.col(s.CHURN).cast("tinyint").alias(s.CHURN), s.FUTURE_VALUE
        )
    return SparkFeatures(frame=frame, labels=labels, scorer=scorer, sharded=sharded)


def rfm_score_columns(scorer: Any) -> list[Any]:
    """:func:`features.pipeline.with_rfm_scores` of a fitted scorer as Spark columns.

    ``r_score``, ``f_score``, ``m_score`` (long), ``rfm_score`` and ``segment``
    (text), in that order. A score is one more than the number of the scorer's
    cut points its input exceeds (``RFMScorer.score``); the segment is the
    cell of :func:`features.segments.segment_grid_codes` at (r, fm).

    Parameters
    ----------
    scorer
        A fitted RFM scorer.

    Returns
    -------
    list of pyspark.sql.Column
    """
    from pyspark.sql import functions as F

    from kizuna.features.rfm_scoring import N_SCORES
    from kizuna.features.segments import SEGMENTS, segment_grid_codes

    inputs = {
        s.R_SCORE: -F.col(scorer.recency_col).cast("double"),  # as rfm_score_inputs
        s.F_SCORE: F.col(scorer.frequency_col).cast("double"),
        s.M_SCORE: F.col(scorer.monetary_col).cast("double"),
    }
    scores = {}
    for name, value in inputs.items():
        above = [(value > F.lit(float(cut))).cast("long") for cut in scorer.cuts_[name]]
        scores[name] = sum(above, F.lit(1).cast("long"))
    r, f, m = scores[s.R_SCORE], scores[s.F_SCORE], scores[s.M_SCORE]
    fm = F.floor((f + m + 1) / 2).cast("long")  # fm_scores, on whole numbers
    names = [SEGMENTS[code] for code in segment_grid_codes().ravel()]
    segment = F.element_at(F.array(*map(F.lit, names)), ((r - 1) * N_SCORES + fm).cast("int"))
    return [
        r.alias(s.R_SCORE),
        f.alias(s.F_SCORE),
        m.alias(s.M_SCORE),
        F.concat(r.cast("string"), f.cast("string"), m.cast("string")).alias(s.RFM_SCORE),
        segment.alias(s.SEGMENT),
    ]


def to_pandas_features(frame: Any, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """A Spark feature frame as the pandas engine returns it: indexed by id, sorted.

    Parameters
    ----------
    frame
        A Spark feature frame.
    customers
        The validated customers table (its categories), or None.

    Returns
    -------
    pandas.DataFrame
        Shape (n_customers, n_features), indexed by customer id (sorted).
    """
    from kizuna.features.segments import SEGMENTS

    pdf = from_spark_frame(frame.toPandas(), category_dtypes(customers))
    if s.SEGMENT in pdf.columns:
        pdf[s.SEGMENT] = pd.Categorical(pdf[s.SEGMENT], categories=list(SEGMENTS))
    return pdf.sort_index()
