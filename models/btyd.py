"""Buy-till-you-die models: BG/NBD for purchases, Gamma-Gamma for spend, CLV.

Import from here; the implementation is split by model:

* :mod:`models.btyd_base` - the shared estimator contract and validation;
* :mod:`models.bgnbd` - :class:`BetaGeoModel` (Fader, Hardie & Lee, 2005);
* :mod:`models.gamma_gamma` - :class:`GammaGammaModel` and
  :func:`customer_lifetime_value`.

Inputs are per-customer RFM summaries (``features.schema``: ``repeat_periods``,
``recency``, ``T``, ``monetary_value``), e.g. from ``features.rfm.rfm_summary``.

Example
-------
>>> bgnbd = BetaGeoModel().fit_frame(rfm)                         # doctest: +SKIP
>>> spend = GammaGammaModel().fit_frame(rfm)                      # doctest: +SKIP
>>> clv = spend.customer_lifetime_value(                           # doctest: +SKIP
...     bgnbd, rfm["repeat_periods"], rfm["recency"], rfm["T"], rfm["monetary_value"],
...     horizon_periods=12, discount_rate=0.01, period_length=52 / 12)
"""

from kizuna.models.bgnbd import BetaGeoModel
from kizuna.models.btyd_base import BTYDModel
from kizuna.models.gamma_gamma import GammaGammaModel, customer_lifetime_value

__all__ = ["BTYDModel", "BetaGeoModel", "GammaGammaModel", "customer_lifetime_value"]
