"""kizuna.models: estimators and decision policies (fit / predict / recommend); no I/O.

The estimators most notebooks need are exported here (see README, "Using
kizuna as a library"); the recommenders are in
:mod:`kizuna.models.recommenders`. Each is imported on first use, so importing
``kizuna.models`` loads neither LightGBM nor implicit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kizuna.features.lazy import lazy_exports

if TYPE_CHECKING:
    from kizuna.models.bgnbd import BetaGeoModel
    from kizuna.models.churn import ChurnClassifier
    from kizuna.models.gamma_gamma import GammaGammaModel
    from kizuna.models.ltv import LTVRegressor

#: Public name -> the module that defines it.
_EXPORTS = {
    "BetaGeoModel": "bgnbd",
    "ChurnClassifier": "churn",
    "GammaGammaModel": "gamma_gamma",
    "LTVRegressor": "ltv",
}
__all__ = [
    "BetaGeoModel",
    "ChurnClassifier",
    "GammaGammaModel",
    "LTVRegressor",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
