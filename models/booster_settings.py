"""Checks of the LightGBM settings every boosted model shares, done at ``fit``."""

from __future__ import annotations

from typing import Any

from kizuna.models.btyd_inputs import check_number


def check_booster_settings(est: Any) -> None:
    """Refuse LightGBM settings of ``est`` before LightGBM sees them.

    LightGBM's own refusals are ``LightGBMError`` (not a ``ValueError``) quoting its C++
    source, and a ``None`` seed fails as a ``TypeError``; these name the setting.

    Parameters
    ----------
    est
        An estimator with ``n_estimators``, ``learning_rate``, ``num_leaves``,
        ``min_child_samples``, ``reg_lambda``, ``colsample_bytree`` and ``random_state``
        (and optionally ``subsample``).

    Raises
    ------
    KizunaInputError
        Naming the first setting out of range.
    """
    check_number("n_estimators", est.n_estimators, minimum=1.0, integer=True)
    check_number("learning_rate", est.learning_rate, minimum=0.0, strict=True)
    check_number("num_leaves", est.num_leaves, minimum=2.0, integer=True)
    check_number("min_child_samples", est.min_child_samples, minimum=0.0, integer=True)
    check_number("reg_lambda", est.reg_lambda, minimum=0.0)
    check_number("colsample_bytree", est.colsample_bytree, minimum=0.0, strict=True, maximum=1.0)
    check_number("subsample", getattr(est, "subsample", 1.0), minimum=0.0, strict=True, maximum=1.0)
    check_number("random_state", est.random_state, minimum=0.0, integer=True)
