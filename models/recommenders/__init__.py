"""Recommenders on integer user / item codes; see :mod:`models.recommenders.base`.

``RerankedRecommender`` (candidate generators + LambdaRank, in
``models.recommenders.reranker``) is the model ``kizuna train`` serves when it
wins on validation; ``HybridRecommender`` is its blend of generators and the
served model without it. The others are the baselines they are measured
against, and the cold-start fallback.
"""

from kizuna.models.recommenders.base import Recommender
from kizuna.models.recommenders.cold_start import ColdStartRecommender
from kizuna.models.recommenders.ease import EASERecommender
from kizuna.models.recommenders.hybrid import COMPONENTS, Explained, HybridRecommender
from kizuna.models.recommenders.implicit_models import (
    ALSRecommender,
    BPRRecommender,
    ItemKNNRecommender,
)
from kizuna.models.recommenders.popularity import (
    PersonalPopularityRecommender,
    PopularityRecommender,
)
from kizuna.models.recommenders.ranking import PAD_ITEM, top_k

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "COMPONENTS",
    "ColdStartRecommender",
    "EASERecommender",
    "Explained",
    "HybridRecommender",
    "ItemKNNRecommender",
    "PAD_ITEM",
    "PersonalPopularityRecommender",
    "PopularityRecommender",
    "Recommender",
    "top_k",
]
