"""Time-based training sets for churn and LTV: one feature/label snapshot per as_of.

With test snapshot ``as_of`` and horizon ``H``, the validation snapshot is
``as_of - H`` and the training snapshots are ``as_of - 2H``, ``as_of - 3H``,
...: every training label window ends before the validation one starts, and
the validation window ends where the test window starts, so nothing that a
model is fit or calibrated on overlaps the holdout.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.pipeline import customer_features, customer_labels
from kizuna.models.bgnbd import BetaGeoModel
from kizuna.models.btyd_features import (
    btyd_summary,
    with_btyd_outputs,
)
from kizuna.models.gamma_gamma import GammaGammaModel


@dataclass(frozen=True)
class Snapshot:
    """Features and labels of the churn population at one as_of.

    Attributes
    ----------
    as_of
        The snapshot instant.
    X
        Model inputs, shape (n_customers, n_features), indexed by customer id.
    churn, value
        Labels, shape (n_customers,): churn 0/1 and net revenue in the horizon.
    bgnbd, gamma_gamma
        BTYD models fit on every customer's history before ``as_of``
        (None when there was too little data to fit them).
    """

    as_of: pd.Timestamp
    X: pd.DataFrame
    churn: pd.Series
    value: pd.Series
    bgnbd: BetaGeoModel | None
    gamma_gamma: GammaGammaModel | None


def snapshot_dates(
    as_of: pd.Timestamp, horizon_days: int, n_train: int
) -> tuple[list[pd.Timestamp], pd.Timestamp, pd.Timestamp]:
    """(training snapshots oldest first, validation snapshot, test snapshot).

    Parameters
    ----------
    as_of
        The test snapshot's instant.
    horizon_days
        The label window, also the spacing of the snapshots.
    n_train
        Number of training snapshots.

    Returns
    -------
    train : list of pandas.Timestamp
        Oldest first.
    val, test : pandas.Timestamp
    """
    step = pd.Timedelta(days=horizon_days)
    train = [as_of - (i + 2) * step for i in range(n_train)][::-1]
    return train, as_of - step, as_of


def model_inputs(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    horizon_days: int,
    btyd_unit: str = "W",
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    bgnbd: BetaGeoModel | None = None,
    gamma_gamma: GammaGammaModel | None = None,
) -> tuple[pd.DataFrame, BetaGeoModel | None, GammaGammaModel | None]:
    """Feature frame plus BTYD outputs for every customer with history before ``as_of``.

    BTYD models are fit on this snapshot's summaries unless given (serving
    passes the ones trained with the model, so scores match training).

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    as_of
        The snapshot's instant.
    horizon_days
        The prediction horizon, for the BTYD outputs.
    btyd_unit
        ``"W"`` or ``"D"``.
    items, customers
        The validated items and customers tables, or None.
    bgnbd, gamma_gamma
        Fitted BTYD models to use, or None to fit them here.

    Returns
    -------
    (X, bgnbd, gamma_gamma)
        X has shape (n_customers, n_features), indexed by customer id.
    """
    frame = customer_features(
        transactions, as_of, customers=customers, items=items, btyd_unit=btyd_unit
    )
    if bgnbd is None:
        bgnbd, gamma_gamma = fit_btyd(btyd_summary(frame))
    X = with_btyd_outputs(frame, bgnbd, gamma_gamma, horizon_days=horizon_days, btyd_unit=btyd_unit)
    return X, bgnbd, gamma_gamma


def fit_btyd(summary: pd.DataFrame) -> tuple[BetaGeoModel | None, GammaGammaModel | None]:
    """Fit BG/NBD (and Gamma-Gamma on repeat buyers with positive spend), if the data allows.

    Parameters
    ----------
    summary
        The BTYD summary (``repeat_periods``, ``recency``, ``T``, ``monetary_value``),
        shape (n_customers, 4).

    Returns
    -------
    bgnbd, gamma_gamma : model or None
        None where the data cannot fit one.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    if len(summary) < 20 or (summary[s.REPEAT_PERIODS] > 0).sum() < 10:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgnbd = BetaGeoModel().fit_frame(summary)
        repeat = summary[(summary[s.REPEAT_PERIODS] > 0) & (summary[s.MONETARY_VALUE] > 0)]
        gamma_gamma = GammaGammaModel().fit_frame(repeat) if len(repeat) >= 10 else None
    if gamma_gamma is not None and gamma_gamma.params_["q"] <= 1.0:
        gamma_gamma = None  # infinite population mean spend: unusable
    return bgnbd, gamma_gamma


def build_snapshot(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    btyd_unit: str = "W",
    customers: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
) -> Snapshot:
    """Features (as of ``as_of``) and labels (``[as_of, as_of + horizon)``) of the active population.

    Parameters
    ----------
    transactions
        Validated lines, shape (n, k).
    as_of
        The snapshot's instant.
    horizon_days
        The label window.
    lookback_days
        Activity window that defines the population.
    btyd_unit
        ``"W"`` or ``"D"``.
    items, customers
        The validated items and customers tables, or None.

    Returns
    -------
    Snapshot
    """
    X, bgnbd, gamma_gamma = model_inputs(
        transactions,
        as_of,
        horizon_days=horizon_days,
        btyd_unit=btyd_unit,
        customers=customers,
        items=items,
    )
    labels = customer_labels(
        transactions, as_of, horizon_days=horizon_days, lookback_days=lookback_days
    )
    X = X.loc[labels.index]
    return Snapshot(
        as_of=as_of,
        X=X,
        churn=labels[s.CHURN],
        value=labels[s.FUTURE_VALUE],
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
    )


def stack(snapshots: list[Snapshot]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Concatenate snapshots into one training set (index: customer id, repeated).

    Parameters
    ----------
    snapshots
        The training snapshots.

    Returns
    -------
    X : pandas.DataFrame
        Shape (n_rows, n_features), indexed by customer id (repeated).
    churn, value : pandas.Series
        Shape (n_rows,).
    """
    X = pd.concat([snap.X for snap in snapshots])
    churn = pd.concat([snap.churn for snap in snapshots])
    value = pd.concat([snap.value for snap in snapshots])
    return X, churn, value
