"""A small model set for the service, built without MLflow.

:func:`build_model_set` generates a synthetic shop, fits small churn, LTV,
BTYD and recommender models directly, and writes them with
``training.artifacts.save_champions``; the service reads that folder through
``KIZUNA_MODEL_SOURCE``. :func:`purchase` makes one event line for it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
HORIZON_DAYS = 90


@dataclass(frozen=True)
class ModelSet:
    folder: Path
    shop_dir: Path
    transactions: pd.DataFrame  # the shop's raw transactions


def build_model_set(
    folder: Path,
    *,
    seed: int = 1,
    n_customers: int = 400,
    n_items: int = 60,
    versions: dict[str, int] | None = None,
    shop_dir: Path | None = None,
) -> ModelSet:
    """Write a complete model set (recommender, churn, LTV) to ``folder``.

    ``shop_dir`` reuses the data of another set (so a second version serves
    the same customers).
    """
    from kizuna.features import schema as s
    from kizuna.features.interactions import build_interactions
    from kizuna.features.pipeline import customer_labels
    from kizuna.features.validate import validate_transactions
    from kizuna.models.bundles import ChampionModels, RecommenderBundle, TabularBundle
    from kizuna.models.churn import ChurnClassifier
    from kizuna.models.ltv import LTVRegressor
    from kizuna.models.recommenders import HybridRecommender
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.artifacts import save_champions
    from kizuna.training.config import DataConfig, ExperimentConfig, SplitConfig
    from kizuna.training.data import load_tables
    from kizuna.training.shop_io import write_shop
    from kizuna.training.snapshot_build import write_snapshot
    from kizuna.training.snapshots import model_inputs

    folder = Path(folder)
    if shop_dir is None:
        shop_dir = folder.parent / f"{folder.name}-shop"
        shop = generate_shop(
            ShopConfig(
                n_customers=n_customers,
                n_items=n_items,
                seed=seed,
                start="2023-01-01",
                end="2024-07-01",
            )
        )
        write_shop(shop, shop_dir)
    data = DataConfig(
        transactions=shop_dir / "transactions.parquet",
        items=shop_dir / "items.parquet",
        customers=shop_dir / "customers.parquet",
    )
    raw = pd.read_parquet(data.transactions)
    tx = validate_transactions(raw).kept
    items, customers = load_tables(data)
    end = tx[s.TIMESTAMP].max().floor("D") + pd.Timedelta(days=1)
    t_val = end - pd.Timedelta(days=HORIZON_DAYS)
    t_train = t_val - pd.Timedelta(days=HORIZON_DAYS)

    def snapshot(as_of: pd.Timestamp, bgnbd=None, gamma_gamma=None):
        X, bg, gg = model_inputs(
            tx,
            as_of,
            horizon_days=HORIZON_DAYS,
            customers=customers,
            items=items,
            bgnbd=bgnbd,
            gamma_gamma=gamma_gamma,
        )
        labels = customer_labels(tx, as_of, horizon_days=HORIZON_DAYS)
        return X.loc[labels.index], labels, bg, gg

    X_tr, y_tr, bgnbd, gamma_gamma = snapshot(t_train)
    X_va, y_va, _, _ = snapshot(t_val, bgnbd, gamma_gamma)
    columns = list(X_tr.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        churn = ChurnClassifier(n_estimators=40, calibration="sigmoid", n_jobs=1).fit(
            X_tr, y_tr[s.CHURN], X_val=X_va, y_val=y_va[s.CHURN]
        )
        ltv = LTVRegressor(n_estimators=40, n_jobs=1).fit(
            X_tr, y_tr[s.FUTURE_VALUE], X_val=X_va, y_val=y_va[s.FUTURE_VALUE]
        )
    tabular = dict(
        feature_columns=columns,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        btyd_unit="W",
        horizon_days=HORIZON_DAYS,
        trained_until=t_train,
    )

    params = {"weighting": "count"}
    inter = build_interactions(tx, end, **params)
    recent = build_interactions(
        tx, end, **params, user_ids=inter.user_ids, item_ids=inter.item_ids, half_life_days=14.0
    )
    categories = items[s.CATEGORY].reindex(inter.item_ids).to_numpy(dtype=object)
    recommender = HybridRecommender(als_factors=8, als_iterations=3, knn_neighbours=20).fit(
        inter.matrix, recent_items=recent.matrix, item_categories=categories
    )
    experiment = ExperimentConfig(
        name="serving-test",
        data=data,
        split=SplitConfig(as_of=t_val.date(), horizon_days=HORIZON_DAYS),
        offers=ROOT / "experiments" / "offers_demo.yaml",
    )
    prices = tx.groupby(s.ITEM_ID)[s.UNIT_PRICE].median().reindex(inter.item_ids).to_numpy()
    champions = ChampionModels(
        recommender=RecommenderBundle(
            model=recommender,
            item_ids=inter.item_ids,
            user_ids=inter.user_ids,
            interaction_params=params,
            item_categories=pd.Series(categories),
            history=inter.matrix,
            trained_until=end,
            item_prices=prices,
            # what training measures on its holdout; a plausible decreasing rate here
            purchase_rate_by_rank=np.linspace(0.2, 0.02, 10),
        ),
        churn=TabularBundle(model=churn, **tabular),
        ltv=TabularBundle(model=ltv, **tabular),
        versions=versions or {"recommender": 1, "churn": 1, "ltv": 1},
        experiment=experiment,
    )
    save_champions(champions, folder)
    write_snapshot(
        folder / "snapshot",
        champions,
        tx,
        items=items,
        customers=customers,
        experiment=experiment.name,
        offers=experiment.offers,
    )
    return ModelSet(folder=folder, shop_dir=shop_dir, transactions=raw)


def purchase(customer: str, item: str, when: pd.Timestamp, order: str = "NEW-1") -> pd.DataFrame:
    """One validated purchase line (2 units at 4.50), as ``/events`` would store it."""
    from kizuna.features import schema as s
    from kizuna.serving.event_checks import check_events

    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: [customer],
            s.ORDER_ID: [order],
            s.ITEM_ID: [item],
            s.TIMESTAMP: [when],
            s.QUANTITY: [2.0],
            s.UNIT_PRICE: [4.5],
        }
    )
    return check_events(raw, now=when + pd.Timedelta(days=1))
