"""What a registered kizuna model holds, and loading the champions back.

Each registered model is an MLflow pyfunc whose artifact ``bundle.joblib``
holds one of the bundles below. The service and the batch scorer load the
bundle once and call the estimators directly (a pyfunc's ``predict`` adds
overhead per call); the pyfunc wrapper exists for MLflow's own tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from kizuna.training.config import ExperimentConfig

BUNDLE_FILE = "bundle.joblib"


@dataclass(frozen=True)
class RecommenderBundle:
    """A fitted recommender and the id maps and settings to feed it.

    Attributes
    ----------
    model
        A fitted ``models.recommenders`` estimator working on integer codes.
    item_ids, user_ids
        Code -> id maps of the training matrix.
    interaction_params
        Keyword arguments of ``features.interactions.build_interactions`` that
        turn a purchase history into the rows ``model.recommend`` expects.
    item_categories
        Category per item code (or None), for filters and reasons.
    history
        The purchase history the model was fit on, (n_users, n_items) CSR in
        ``interaction_params`` weighting: the rows ``recommend`` takes.
    trained_until
        The model saw events strictly before this instant.
    item_prices
        Median unit price per item code, shape (n_items,), for offer values.
    purchase_rate_by_rank
        Shape (k,): on the holdout, the share of customers who bought the
        new item recommended at rank r (``new`` mode) within the horizon: a
        calibrated P(purchase) for a next-best-offer's product candidates.
    """

    model: Any
    item_ids: pd.Index
    user_ids: pd.Index
    interaction_params: dict[str, Any]
    item_categories: pd.Series | None = None
    history: Any = None
    trained_until: pd.Timestamp | None = None
    item_prices: Any = None
    purchase_rate_by_rank: Any = None


@dataclass(frozen=True)
class TabularBundle:
    """A churn or LTV model with the BTYD models that make its inputs.

    Attributes
    ----------
    model
        ``ChurnClassifier`` or ``LTVRegressor`` (or a baseline).
    feature_columns
        Input columns, in order.
    bgnbd, gamma_gamma
        BTYD models fit on the latest training snapshot, for the ``p_alive``
        and expected-value features (None in contractual mode).
    btyd_unit, horizon_days
        Time unit of the BTYD summary and the label horizon.
    mode
        ``non_contractual`` or ``contractual``.
    """

    model: Any
    feature_columns: list[str]
    bgnbd: Any = None
    gamma_gamma: Any = None
    btyd_unit: str = "W"
    horizon_days: int = 90
    mode: str = "non_contractual"
    trained_until: pd.Timestamp | None = None


@dataclass(frozen=True)
class ChampionModels:
    """The models that the ``champion`` aliases point to, loaded once.

    ``versions`` maps ``recommender``/``churn``/``ltv`` to the registry
    version served; ``experiment`` is the resolved config of the run that
    produced the churn model (or the first found), so the service can read
    the same data source.
    """

    recommender: RecommenderBundle | None
    churn: TabularBundle | None
    ltv: TabularBundle | None
    versions: dict[str, int] = field(default_factory=dict)
    experiment: ExperimentConfig | None = None
    #: Kinds whose file could not be loaded -> why (naming kind, version and file).
    broken: dict[str, str] = field(default_factory=dict)


def save_bundle(bundle: Any, folder: Path) -> Path:
    """Write a bundle into ``folder`` (created); return the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BUNDLE_FILE
    joblib.dump(bundle, path, compress=3)
    return path


def load_bundle(path: Path) -> Any:
    """Read a bundle file (or a folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / BUNDLE_FILE
    return joblib.load(path)


MODEL_KINDS = ("recommender", "churn", "ltv")
EXPERIMENT_FILE = "experiment.json"
VERSIONS_FILE = "versions.json"


def save_champions(champions: ChampionModels, folder: Path) -> Path:
    """Write a model set to a local folder that :func:`load_champions_from_folder` reads.

    Layout: ``<kind>/bundle.joblib`` per model, ``versions.json`` and
    ``experiment.json`` (the resolved experiment config).
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for kind in MODEL_KINDS:
        bundle = getattr(champions, kind)
        if bundle is not None:
            save_bundle(bundle, folder / kind)
    (folder / VERSIONS_FILE).write_text(json.dumps(champions.versions, indent=2))
    if champions.experiment is not None:
        (folder / EXPERIMENT_FILE).write_text(champions.experiment.model_dump_json(indent=2))
    return folder


def load_champions_from_folder(folder: Path) -> ChampionModels:
    """Read a model set written by :func:`save_champions` (models absent stay None)."""
    import json

    from kizuna.features.errors import KizunaInputError

    folder = Path(folder)
    if not folder.is_dir():
        raise KizunaInputError(f"model folder not found: {folder}")
    versions_path = folder / VERSIONS_FILE
    versions = json.loads(versions_path.read_text()) if versions_path.exists() else {}
    bundles: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for kind in MODEL_KINDS:
        path = folder / kind / BUNDLE_FILE
        bundles[kind] = None
        if not path.exists():
            continue
        try:
            bundles[kind] = load_bundle(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not hide the others
            cause = str(exc) or "the file is truncated or corrupt"
            broken[kind] = (
                f"{kind} model version {versions.get(kind, '?')} ({path}) cannot be loaded: "
                f"{cause} ({type(exc).__name__})"
            )
    if broken and all(bundles[k] is None for k in MODEL_KINDS):
        raise KizunaInputError("; ".join(broken.values()))
    experiment_path = folder / EXPERIMENT_FILE
    experiment = (
        ExperimentConfig.model_validate_json(experiment_path.read_text())
        if experiment_path.exists()
        else None
    )
    return ChampionModels(**bundles, versions=versions, experiment=experiment, broken=broken)
