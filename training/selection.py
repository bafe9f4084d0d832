"""Which model is served: the tuned model or a baseline, chosen on the validation split.

The rule is the same for every kind of model: each candidate (the tuned model
and every baseline) is scored on the validation split with the primary
metric, and a baseline that beats the tuned model there is what gets served.
A tie keeps the tuned model. The holdout is not used for the choice, so its
figures stay an honest estimate of the served model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TUNED = "kizuna"


@dataclass(frozen=True)
class Selection:
    """The served candidate and why.

    Attributes
    ----------
    served
        ``"kizuna"`` (the tuned model) or a baseline's name.
    metric
        The primary metric the choice was made on.
    validation
        The primary metric of each candidate on the validation split.
    reason
        One sentence for MLflow tags and the CLI.
    """

    served: str
    metric: str
    validation: dict[str, float]
    reason: str

    @property
    def baseline_served(self) -> bool:
        return self.served != TUNED


def choose_served(
    validation: dict[str, float], *, metric: str, higher_is_better: bool = True
) -> Selection:
    """The candidate with the best validation ``metric``; the tuned model wins ties.

    Parameters
    ----------
    validation
        ``{candidate: value}``; must hold :data:`TUNED`. Non-finite values
        never win.
    metric
        The metric compared.
    higher_is_better
        The metric's direction.

    Returns
    -------
    Selection
    """
    sign = 1.0 if higher_is_better else -1.0
    tuned = validation[TUNED]
    best_name, best_value = TUNED, sign * tuned if np.isfinite(tuned) else -np.inf
    for name, value in validation.items():
        if name != TUNED and np.isfinite(value) and sign * value > best_value:
            best_name, best_value = name, sign * value
    others = {k: v for k, v in validation.items() if k != TUNED and np.isfinite(v)}
    if best_name == TUNED:
        if others:
            rival = max(others, key=lambda k: sign * others[k])
            reason = (
                f"the tuned model is not beaten on validation {metric} "
                f"({tuned:.4f} vs best baseline {rival} {others[rival]:.4f})"
            )
        else:
            reason = "no baseline to compare with on validation"
    else:
        reason = (
            f"baseline {best_name} beats the tuned model on validation {metric} "
            f"({validation[best_name]:.4f} vs {tuned:.4f}): the baseline is served"
        )
    return Selection(best_name, metric, dict(validation), reason)


def best_rival(
    holdout: dict[str, dict[str, float]], *, metric: str, served: str, higher_is_better: bool
) -> tuple[str, float] | None:
    """The strongest candidate other than ``served`` on the holdout ``metric``, or None.

    Parameters
    ----------
    holdout
        Candidate -> its holdout metrics.
    metric
        The metric compared.
    served
        The served candidate.
    higher_is_better
        The metric's direction.

    Returns
    -------
    (str, float) or None
        The rival's name and metric value.
    """
    sign = 1.0 if higher_is_better else -1.0
    values = {
        name: float(m[metric])
        for name, m in holdout.items()
        if name != served and metric in m and np.isfinite(m[metric])
    }
    if not values:
        return None
    name = max(values, key=lambda k: sign * values[k])
    return name, values[name]
