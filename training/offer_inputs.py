"""What the offer commands read: the offer catalogue, the scores table, learned uplift; shared options.

Used by ``kizuna score offers`` (:mod:`training.cli_offers`) and
``kizuna evaluate-campaign`` (:mod:`training.cli_campaign`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.models.offers import OfferCatalogue
from kizuna.serving.offer_file import read_offers
from kizuna.training.progress import err_console

#: The LTV column of score tables written before the column registry (now predicted_value).
LEGACY_PREDICTED_VALUE = "predicted_ltv"

OffersOpt = Annotated[
    Path | None,
    typer.Option("--offers", help="Offer catalogue (.yaml/.yml or .csv)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Experiment YAML whose `offers:` names the catalogue."),
]
MarginOpt = Annotated[
    float | None,
    typer.Option("--margin", help="Share of revenue kept as profit (overrides the catalogue)."),
]


def resolve_offers(
    offers: Path | None, config: Path | None, *, margin: float | None = None
) -> tuple[OfferCatalogue, Path]:
    """The catalogue from ``--offers``, or the experiment's ``offers:`` key (relative to it).

    Parameters
    ----------
    offers
        The ``--offers`` file, or None.
    config
        The experiment file, or None.
    margin
        The shop's margin, overriding the file's; or None.

    Returns
    -------
    catalogue : OfferCatalogue
    path : pathlib.Path
        The file it was read from.
    """
    from kizuna.training.config import offers_file, read_yaml

    if offers is None and config is None:
        raise KizunaInputError(
            "give an offer catalogue with --offers, or an experiment with "
            "an `offers:` entry with --config"
        )
    if offers is None:
        raw = read_yaml(config)
        if "offers" not in raw:
            raise KizunaInputError(f"{config} has no `offers:` entry naming a catalogue")
        offers = offers_file(raw["offers"], config)
    return read_offers(offers, margin=margin), offers


def read_scores(path: Path) -> pd.DataFrame:
    """Customer scores with ``customer_id`` as a column and days since the last purchase.

    Parameters
    ----------
    path
        The scores file (``kizuna score`` output).

    Returns
    -------
    pandas.DataFrame
        One row per customer.
    """
    from kizuna.training.csv_safety import restored_from
    from kizuna.training.data import read_table

    # A CSV CRM export (`kizuna score --out crm.csv`) has its formula quotes taken off.
    frame = restored_from(read_table(path, string_columns=set(s.TEXT_COLUMNS)), Path(path))
    if s.CUSTOMER_ID not in frame.columns:
        if frame.index.name == s.CUSTOMER_ID:
            frame = frame.reset_index()
        else:
            raise KizunaInputError(f"{path} has no {s.CUSTOMER_ID!r} column", column=s.CUSTOMER_ID)
    if s.DAYS_SINCE_LAST_PURCHASE not in frame.columns and s.RECENCY_DAYS in frame.columns:
        frame[s.DAYS_SINCE_LAST_PURCHASE] = frame[s.RECENCY_DAYS]
    # Score tables written before the column registry named the LTV predicted_ltv.
    if s.PREDICTED_VALUE not in frame.columns and LEGACY_PREDICTED_VALUE in frame.columns:
        frame[s.PREDICTED_VALUE] = frame[LEGACY_PREDICTED_VALUE]
    # `kizuna score` (the CRM export) has totals, not means.
    if s.MONETARY_MEAN not in frame.columns and {s.MONETARY_TOTAL, s.FREQUENCY} <= set(
        frame.columns
    ):
        frame[s.MONETARY_MEAN] = frame[s.MONETARY_TOTAL] / frame[s.FREQUENCY].astype(float)
    if s.CHURN_PROBABILITY in frame.columns:
        unscored = frame[s.CHURN_PROBABILITY].isna()
        if unscored.any():
            # Outside the churn population (no purchase in the lookback window): no
            # score to value an offer on, so they are left out, and counted.
            err_console.print(
                f"{int(unscored.sum()):,} customers have no churn score "
                "(outside the model's population) and get no offer decision"
            )
            frame = frame.loc[~unscored].reset_index(drop=True)
    return frame


def read_uplift(path: Path) -> Any:
    """``--uplift``: a table customer_id, offer_id, uplift, or a dict offer_id -> model (.joblib).

    Parameters
    ----------
    path
        The ``--uplift`` file.

    Returns
    -------
    pandas.DataFrame or dict
        The table, or offer id -> uplift model.
    """
    from kizuna.training.data import read_table

    if not path.is_file():
        raise KizunaInputError(f"--uplift: no such file: {path}")
    if path.suffix.lower() == ".joblib":
        import joblib

        try:
            models = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
            raise KizunaInputError(
                f"--uplift: cannot load {path}: {exc or type(exc).__name__}"
            ) from None
        if not isinstance(models, dict):
            raise KizunaInputError(f"{path} must hold a dict offer_id -> uplift model")
        return models
    return read_table(path, string_columns={s.CUSTOMER_ID, "offer_id"})
