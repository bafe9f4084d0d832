"""Next-best offer: one expected-value decision from churn, LTV, recommendations and costs.

See :mod:`models.next_best_offer.decide` for the decision rule.
"""

from kizuna.models.next_best_offer.decide import DECISION_COLUMNS, decide, decide_one
from kizuna.models.next_best_offer.inputs import UpliftInput, UpliftPredictor
from kizuna.models.next_best_offer.values import value_at_risk, value_at_stake

__all__ = [
    "DECISION_COLUMNS",
    "UpliftInput",
    "UpliftPredictor",
    "decide",
    "decide_one",
    "value_at_risk",
    "value_at_stake",
]
