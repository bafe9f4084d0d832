"""The fitted feature transforms under the shared scikit-learn estimator contract.

:class:`~features.interaction_weights.InteractionWeigher` and
:class:`~features.rfm_scoring.RFMScorer` are fitted on a population and applied to
other rows later (serving), so they follow the same rules as the models
(:class:`tests.models.estimator_contract.EstimatorContract`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features.interaction_weights import InteractionWeigher
from kizuna.features.rfm_scoring import RFMScorer
from tests.models.estimator_contract import EstimatorContract

COUNTS = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 1, 0], [3, 0, 0], [1, 1, 1]]))


class TestInteractionWeigherContract(EstimatorContract):
    def make_estimator(self) -> InteractionWeigher:
        return InteractionWeigher("bm25")

    def make_data(self) -> dict:
        return {"counts": COUNTS}

    def fit(self, est: InteractionWeigher, data: dict) -> InteractionWeigher:
        return est.fit(data["counts"])

    def outputs(self, est: InteractionWeigher, data: dict) -> list[np.ndarray]:
        return [est.transform(data["counts"]).toarray()]

    def bad_settings(self) -> dict:
        return {"weighting": "idf", "k1": -1.0, "b": 1.5}

    def bad_data(self, data: dict) -> list[tuple[dict, str]]:
        negative, nan = data["counts"].copy(), data["counts"].copy()
        negative.data[0], nan.data[1] = -1.0, np.nan
        return [
            ({"counts": negative}, "counts"),
            ({"counts": nan}, "counts"),
            ({"counts": "abc"}, "counts"),  # scipy's own error named no argument
            ({"counts": None}, "counts"),  # scipy read it as a 1 x 1 matrix
            ({"counts": [1.0, 2.0]}, "counts"),  # one row of what? not a matrix
        ]

    def test_log_weighting_by_hand(self) -> None:
        weighted = InteractionWeigher("log").fit(COUNTS).transform(COUNTS[[0]])
        np.testing.assert_allclose(weighted.toarray(), [[np.log(2.0), 0.0, np.log(3.0)]], 1e-6)


class TestRFMScorerContract(EstimatorContract):
    def make_estimator(self) -> RFMScorer:
        return RFMScorer()

    def make_data(self) -> dict:
        summary = pd.DataFrame(
            {
                "repeat_periods": [0.0, 1, 2, 3, 4],
                "recency": [0.0, 2, 4, 6, 8],
                "T": [10.0, 10, 10, 10, 10],
                "monetary_value": [0.0, 5, 10, 15, 20],
            }
        )
        return {"summary": summary}

    def fit(self, est: RFMScorer, data: dict) -> RFMScorer:
        return est.fit(data["summary"])

    def outputs(self, est: RFMScorer, data: dict) -> list[np.ndarray]:
        return [est.score(data["summary"]).to_numpy()]

    def bad_settings(self) -> dict:
        return {"frequency_col": None}

    def bad_data(self, data: dict) -> list[tuple[dict, str]]:
        summary = data["summary"]
        return [
            ({"summary": summary.drop(columns=["T"])}, "'T'"),
            ({"summary": summary.assign(recency=[0.0, np.nan, 4, 6, 8])}, "recency"),
        ]

    def test_five_customers_get_five_scores(self, fitted: RFMScorer, data: dict) -> None:
        # One customer per quintile: each score is the customer's rank (1 = worst).
        scores = fitted.score(data["summary"])
        np.testing.assert_array_equal(scores["f_score"], [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(scores["m_score"], [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(scores["r_score"], [1, 2, 3, 4, 5])
