"""kizuna.features: validation, point-in-time features and labels, as pure data functions.

The names most notebooks need are exported here (see README, "Using kizuna as
a library"); each is imported from its module on first use, so importing
``kizuna.features`` (or ``kizuna.features.schema``) loads no pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kizuna.features.lazy import lazy_exports

if TYPE_CHECKING:
    from kizuna.features.behaviour import behaviour_vector
    from kizuna.features.errors import KizunaInputError
    from kizuna.features.interactions import Interactions, build_interactions
    from kizuna.features.labels import churn_labels, future_value
    from kizuna.features.pipeline import customer_features, customer_labels
    from kizuna.features.reconciliation import Reconciliation, ValidatedTransactions
    from kizuna.features.rfm import rfm_summary
    from kizuna.features.tables import validate_customers, validate_items
    from kizuna.features.validate import validate_transactions

#: Public name -> the module that defines it.
_EXPORTS = {
    "KizunaInputError": "errors",
    "Interactions": "interactions",
    "Reconciliation": "reconciliation",
    "ValidatedTransactions": "reconciliation",
    "behaviour_vector": "behaviour",
    "build_interactions": "interactions",
    "churn_labels": "labels",
    "customer_features": "pipeline",
    "customer_labels": "pipeline",
    "future_value": "labels",
    "rfm_summary": "rfm",
    "validate_customers": "tables",
    "validate_items": "tables",
    "validate_transactions": "validate",
}
__all__ = [
    "Interactions",
    "KizunaInputError",
    "Reconciliation",
    "ValidatedTransactions",
    "behaviour_vector",
    "build_interactions",
    "churn_labels",
    "customer_features",
    "customer_labels",
    "future_value",
    "rfm_summary",
    "validate_customers",
    "validate_items",
    "validate_transactions",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
