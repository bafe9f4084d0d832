"""What the service knows about customers and items, built once per model set.

:func:`build_state` reads the transactions of the champions' experiment (the
same source training used) plus the purchase events stored since, and derives,
as of the day after the last line:

* the feature frame (:func:`features.pipeline.customer_features`), and per
  churn/LTV bundle the model inputs with that bundle's BTYD outputs;
* the purchase history as the recommender's interaction rows
  (:func:`features.interactions.build_interactions` with the bundle's
  ``interaction_params`` and item map);
* the item catalogue: names, categories, stock and trending items.

:meth:`CustomerState.apply_events` then updates single customers in place
when new purchases arrive, without rebuilding the rest.

The service's clock is the state's ``as_of``: a purchase stamped at or after it
counts as made just before it (recency 0), so every customer is scored at the
same instant; a reload moves ``as_of`` forward.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.interactions import build_interactions
from kizuna.features.pipeline import customer_features
from kizuna.features.segments import N_SCORES, rfm_segments
from kizuna.features.validate import validate_transactions
from kizuna.models.recommenders.cold_start import ColdStartRecommender
from kizuna.training.artifacts import ChampionModels, RecommenderBundle, TabularBundle
from kizuna.training.snapshots import with_btyd_outputs

TRENDING_DAYS = 30
REASON_CACHE_ROWS = 200_000
_TX_COLUMNS = (
    s.CUSTOMER_ID,
    s.ORDER_ID,
    s.ITEM_ID,
    s.TIMESTAMP,
    s.QUANTITY,
    s.UNIT_PRICE,
    s.REVENUE,
    s.IS_RETURN,
    s.CHANNEL,
    s.CATEGORY,
)
# Columns of the feature frame that are not model inputs (as in training.snapshots).
_RECENCY, _MONETARY = "recency_days", "monetary_total"


# --- the item side -------------------------------------------------------------------


@dataclass
class Catalogue:
    """Items by code (the recommender's item map when there is one).

    Attributes
    ----------
    item_ids
        Code -> id, shape (n_items,).
    names, categories
        Object arrays, shape (n_items,); None where unknown.
    in_stock
        Bool, shape (n_items,); all True without stock information.
    recent_buyers
        Distinct buyers of each item in the ``TRENDING_DAYS`` before ``as_of``,
        shape (n_items,): what the cold-start fallback ranks by.
    """

    item_ids: pd.Index
    names: np.ndarray
    categories: np.ndarray
    in_stock: np.ndarray
    recent_buyers: np.ndarray
    has_stock: bool = False
    _by_category: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_category = {}
        cats = pd.Series(self.categories, dtype=object)
        known = cats.notna().to_numpy()
        for name in pd.unique(cats[known]):
            self._by_category.setdefault(str(name).casefold(), np.zeros(len(cats), dtype=bool))
            self._by_category[str(name).casefold()] |= (cats == name).to_numpy()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def category_names(self) -> list[str]:
        return sorted({str(c) for c in self.categories if c is not None})

    def codes(self, ids: list[str]) -> np.ndarray:
        """Code per item id, shape (n,); -1 for unknown ids."""
        return self.item_ids.get_indexer(ids).astype(np.int64, copy=False)

    def mask(
        self,
        *,
        categories: list[str] | None = None,
        in_stock_only: bool = False,
        exclude_items: list[str] | None = None,
    ) -> np.ndarray:
        """Allowed items, bool shape (n_items,).

        Raises
        ------
        KizunaInputError
            For a category the catalogue does not know.
        """
        allowed = self.in_stock.copy() if in_stock_only else np.ones(self.n_items, dtype=bool)
        if categories:
            unknown = [c for c in categories if c.casefold() not in self._by_category]
            if unknown:
                known = (
                    ", ".join(self.category_names[:30]) or "none: the catalogue has no categories"
                )
                raise KizunaInputError(f"unknown categories {unknown[:5]}; known: {known}")
            chosen = np.zeros(self.n_items, dtype=bool)
            for c in categories:
                chosen |= self._by_category[c.casefold()]
            allowed &= chosen
        if exclude_items:
            codes = self.codes(exclude_items)
            allowed[codes[codes >= 0]] = False
        return allowed


def build_catalogue(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    item_ids: pd.Index | None,
    items: pd.DataFrame | None,
    recommender: RecommenderBundle | None,
    line_names: pd.Series | None = None,
) -> Catalogue:
    """Item map, names, categories, stock and trending items as of ``as_of``.

    ``line_names`` (item id -> name, e.g. from an export's description
    column) names the items the catalogue table does not.
    """
    purchases = transactions[~transactions[s.IS_RETURN].to_numpy()]
    if item_ids is None:
        seen = pd.Index(pd.unique(purchases[s.ITEM_ID].astype(str)))
        if items is not None:
            seen = seen.union(items.index.astype(str))
        item_ids = seen.sort_values()
    n = len(item_ids)
    names = np.full(n, None, dtype=object)
    categories = np.full(n, None, dtype=object)
    in_stock = np.ones(n, dtype=bool)
    has_stock = False
    if recommender is not None and recommender.item_categories is not None:
        cats = pd.Series(recommender.item_categories).to_numpy(dtype=object)
        if len(cats) == n:
            categories[:] = [None if pd.isna(c) else str(c) for c in cats]
    if s.CATEGORY in purchases.columns:
        # The most frequent category of each item's lines fills what the bundle lacks.
        lines = purchases[[s.ITEM_ID, s.CATEGORY]].dropna()
        if len(lines):
            top = (
                lines.groupby([s.ITEM_ID, s.CATEGORY], observed=True)
                .size()
                .rename("n")
                .reset_index()
                .sort_values(["n", s.CATEGORY], ascending=[False, True], kind="stable")
                .drop_duplicates(s.ITEM_ID)
            )
            pos = item_ids.get_indexer(top[s.ITEM_ID].astype(str))
            fill = pos >= 0
            for p, c in zip(pos[fill], top[s.CATEGORY].to_numpy()[fill], strict=True):
                if categories[p] is None:
                    categories[p] = str(c)
    if line_names is not None and len(line_names):
        pos = item_ids.get_indexer(line_names.index.astype(str))
        ok = pos >= 0
        names[pos[ok]] = line_names.to_numpy(dtype=object)[ok]
    if items is not None:
        pos = item_ids.get_indexer(items.index.astype(str))
        ok = pos >= 0
        if s.NAME in items.columns:
            names[pos[ok]] = [None if pd.isna(v) else str(v) for v in items[s.NAME].to_numpy()[ok]]
        if s.CATEGORY in items.columns:
            vals = items[s.CATEGORY].to_numpy(dtype=object)[ok]
            for p, c in zip(pos[ok], vals, strict=True):
                if not pd.isna(c):
                    categories[p] = str(c)
        if s.IN_STOCK in items.columns:
            has_stock = True
            stock = items[s.IN_STOCK].to_numpy(dtype=object)[ok]
            in_stock[pos[ok]] = [bool(v) if not pd.isna(v) else True for v in stock]
    return Catalogue(
        item_ids=item_ids,
        names=names,
        categories=categories,
        in_stock=in_stock,
        recent_buyers=_recent_buyers(purchases, as_of, item_ids),
        has_stock=has_stock,
    )


def _recent_buyers(purchases: pd.DataFrame, as_of: pd.Timestamp, item_ids: pd.Index) -> np.ndarray:
    """Distinct buyers per item in the ``TRENDING_DAYS`` before ``as_of``, shape (n_items,)."""
    n = len(item_ids)
    codes = item_ids.get_indexer(purchases[s.ITEM_ID].astype(str))
    known = codes >= 0
    cust = pd.factorize(purchases[s.CUSTOMER_ID].to_numpy())[0]
    pairs = pd.DataFrame({"i": codes[known], "c": cust[known]})
    recent_rows = (purchases[s.TIMESTAMP] >= as_of - pd.Timedelta(days=TRENDING_DAYS)).to_numpy()
    recent_pairs = pairs[recent_rows[known]].drop_duplicates()
    return np.bincount(recent_pairs["i"], minlength=n).astype(float)


# --- the customer side ---------------------------------------------------------------------


def tabular_frame(features: pd.DataFrame, bundle: TabularBundle) -> pd.DataFrame:
    """Feature frame plus the bundle's BTYD outputs, as :func:`training.snapshots.model_inputs` builds it.

    Parameters
    ----------
    features
        ``customer_features`` output, shape (n, p).

    Returns
    -------
    pandas.DataFrame
        Shape (n, p'): every column of ``features`` but the non-features, with
        ``p_alive``, ``expected_purchases`` ... when the bundle has BG/NBD.
    """
    frame = with_btyd_outputs(
        features,
        bundle.bgnbd,
        bundle.gamma_gamma,
        horizon_days=bundle.horizon_days,
        btyd_unit=bundle.btyd_unit,
    )
    missing = [c for c in bundle.feature_columns if c not in frame.columns]
    if missing:
        raise KizunaInputError(
            f"the model needs columns the serving features lack: {missing[:5]}; "
            "was it trained on another data source or feature version?"
        )
    return frame


def input_matrix(bundle: TabularBundle, frame: pd.DataFrame) -> np.ndarray | None:
    """The booster's input for ``frame``'s rows, shape (n, p) float64; None without one."""
    pre = getattr(bundle.model, "preprocessor_", None)
    if pre is None or not hasattr(bundle.model, "booster_"):
        return None
    return pre.transform_matrix(frame[list(pre.feature_names_in_)])


@dataclass
class RowWeigher:
    """Weighs one customer's count row the way the whole matrix was weighed.

    BM25 and TF-IDF use population statistics (item document frequency,
    mean row length); a single row is weighed with those of the population
    it joins, as implicit's ``bm25_weight`` / ``tfidf_weight`` would.
    """

    weighting: str
    idf: np.ndarray | None = None
    average_length: float = 1.0
    k1: float = 100.0
    b: float = 0.8

    @classmethod
    def fit(cls, counts: sp.csr_matrix, params: dict[str, Any]) -> RowWeigher:
        weighting = params.get("weighting", "count")
        if weighting not in ("bm25", "tfidf"):
            return cls(weighting)
        n_users, n_items = counts.shape
        df = np.bincount(counts.indices, minlength=n_items)
        idf = np.log(max(n_users, 1)) - np.log1p(df)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        return cls(
            weighting,
            idf=idf,
            average_length=float(lengths.mean()) if n_users else 1.0,
            k1=float(params.get("bm25_k1", 100.0)),
            b=float(params.get("bm25_b", 0.8)),
        )

    def __call__(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        out = sp.csr_matrix(counts, dtype=np.float64, copy=True)
        if self.weighting == "log":
            out.data = np.log1p(out.data)
        elif self.weighting == "tfidf":
            out.data = np.sqrt(out.data) * self.idf[out.indices]
        elif self.weighting == "bm25":
            length = np.asarray(out.sum(axis=1)).ravel()
            norm = (1.0 - self.b) + self.b * length / self.average_length
            row_of = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
            out.data = (
                out.data
                * (self.k1 + 1.0)
                / (self.k1 * norm[row_of] + out.data)
                * self.idf[out.indices]
            )
        out = sp.csr_matrix(out, dtype=np.float32)
        out.sort_indices()
        return out


@dataclass
class CustomerState:
    """Per-customer features, model inputs and purchase history, plus the catalogue.

    Attributes
    ----------
    as_of
        Instant the features describe (the day after the last line at build).
    features
        ``customer_features`` frame, shape (n_customers, p), indexed by id.
    frames
        Per tabular model kind (``churn``, ``ltv``): the inputs of that model,
        rows aligned with ``features`` (contractual churn: the customers table).
    matrices
        The same inputs as the booster reads them (``transform_matrix``),
        float64 (n, p), made once so a request only indexes rows; None for a
        model without a LightGBM preprocessor.
    history
        Interaction rows over the catalogue's items, shape (n_customers, n_items),
        aligned with ``features``; rows changed by events live in ``overrides``.
    """

    as_of: pd.Timestamp
    features: pd.DataFrame
    frames: dict[str, pd.DataFrame]
    matrices: dict[str, np.ndarray | None]
    catalogue: Catalogue
    history: sp.csr_matrix
    preferences: dict[str, list[str]]
    bundles: dict[str, TabularBundle]
    recommender: RecommenderBundle | None
    interaction_params: dict[str, Any]
    weigher: RowWeigher
    transactions: pd.DataFrame
    customers: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    last_event_seq: int = 0
    events_applied: int = 0
    overrides: dict[int, sp.csr_matrix] = field(default_factory=dict)
    cold_start: Any = None
    live: bool = True

    def __post_init__(self) -> None:
        self._tx_index, self._tx_starts = _group_bounds(self.transactions)
        self._extra: dict[str, list[pd.DataFrame]] = {}
        self._population = {
            "r": np.sort(-self.features[_RECENCY].to_numpy(dtype=float)),
            "f": np.sort(self.features[s.FREQUENCY].to_numpy(dtype=float)),
            "m": np.sort(self.features[_MONETARY].to_numpy(dtype=float)),
        }
        self._buyers: sp.csc_matrix | None = None
        self._row_cache: dict[tuple[Any, ...], dict[int, Any]] = {}

    # -- lookups -----------------------------------------------------------------
    @property
    def n_customers(self) -> int:
        return len(self.features)

    def positions(self, customer_ids: list[str]) -> np.ndarray:
        """Row of each customer, shape (n,) int64; -1 for customers without history."""
        return self.features.index.get_indexer(customer_ids).astype(np.int64, copy=False)

    def position(self, customer_id: str) -> int:
        try:
            pos = self.features.index.get_loc(customer_id)
        except KeyError:
            return -1
        return int(pos) if isinstance(pos, int | np.integer) else -1

    def recommender_code(self, customer_id: str) -> int:
        """The customer's row in the recommender's training matrix; -1 if it never saw them."""
        if self.recommender is None:
            return -1
        try:
            code = self.recommender.user_ids.get_loc(customer_id)
        except KeyError:
            return -1
        return int(code) if isinstance(code, int | np.integer) else -1

    def history_rows(self, positions: np.ndarray) -> sp.csr_matrix:
        """Interaction rows of customers at ``positions`` (>= 0), shape (n, n_items)."""
        positions = np.asarray(positions, dtype=np.int64)
        if not self.overrides or not any(int(p) in self.overrides for p in positions):
            return self.history[positions]
        rows = [
            self.overrides.get(int(p)) if int(p) in self.overrides else self.history[int(p)]
            for p in positions
        ]
        return sp.vstack(rows, format="csr")

    def cached_rows(self, key: tuple[Any, ...], rows: np.ndarray, compute: Any) -> list[Any]:
        """Per-customer results that only change with the customer's features, cached.

        Reason codes cost far more than the score (TreeSHAP contributions and
        their phrasing, about a millisecond a customer), and a customer's only
        change when an event or a reload changes their features; so each
        (``key``, row) is computed once, by ``compute(rows) -> list`` for the
        rows missing, and kept until then. At most ``REASON_CACHE_ROWS`` rows
        per key are kept (then the cache starts over).
        """
        cache = self._row_cache.setdefault(key, {})
        wanted = [int(r) for r in rows]
        missing = [r for r in dict.fromkeys(wanted) if r not in cache]
        if missing:
            if len(cache) + len(missing) > REASON_CACHE_ROWS:
                cache.clear()
            cache.update(zip(missing, compute(np.array(missing, dtype=np.int64)), strict=True))
        return [cache[r] for r in wanted]

    def buyers(self) -> sp.csc_matrix:
        """Binary customers x items purchase matrix (column access), built on first use."""
        if self._buyers is None:
            binary = self.history.copy()
            binary.data = np.ones_like(binary.data)
            self._buyers = binary.tocsc()
        return self._buyers

    # -- incremental update ----------------------------------------------------
    def apply_events(self, lines: pd.DataFrame, *, last_seq: int | None = None) -> list[str]:
        """Fold validated purchase lines into the state; return the customers updated.

        Parameters
        ----------
        lines
            Validated transactions (as :func:`training.event_store.check_events`
            returns), shape (n, k).
        last_seq
            Sequence number of the last line, remembered for catch-up.
        """
        if not self.live:
            raise KizunaInputError(
                "this snapshot was built for batch scoring (live=False): it cannot take events"
            )
        if len(lines) == 0:
            if last_seq is not None:
                self.last_event_seq = max(self.last_event_seq, last_seq)
            return []
        lines = _clip_to(_canonical(lines), self.as_of)
        for customer, rows in lines.groupby(s.CUSTOMER_ID, sort=False, observed=True):
            self._extra.setdefault(str(customer), []).append(rows)
        updated = self._refresh([str(c) for c in pd.unique(lines[s.CUSTOMER_ID])])
        self.events_applied += len(lines)
        if last_seq is not None:
            self.last_event_seq = max(self.last_event_seq, last_seq)
        return updated

    def customer_rows(self, customer_id: str) -> pd.DataFrame:
        """Every transaction line of one customer (base data and events)."""
        parts = []
        i = self._tx_index.get_indexer([customer_id])[0]
        if i >= 0:
            parts.append(self.transactions.iloc[self._tx_starts[i] : self._tx_starts[i + 1]])
        parts.extend(self._extra.get(customer_id, []))
        if not parts:
            return self.transactions.iloc[:0]
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def _refresh(self, customers: list[str]) -> list[str]:
        """Recompute every derived row of ``customers`` from all their lines, in one pass."""
        rows = pd.concat([self.customer_rows(c) for c in customers], ignore_index=True)
        unit = next((b.btyd_unit for b in self.bundles.values()), "W")
        feats = customer_features(
            rows, self.as_of, customers=self.customers, items=self.items, btyd_unit=unit
        )
        # Customers with returns only have nothing to score yet.
        feats = self._rescore(feats.loc[[c for c in customers if c in feats.index]])
        if feats.empty:
            return []
        ids = [str(c) for c in feats.index]
        behavioural = {k: b for k, b in self.bundles.items() if b.mode != "contractual"}
        inputs = {kind: tabular_frame(feats, bundle) for kind, bundle in behavioural.items()}
        matrix_rows = {
            kind: input_matrix(bundle, inputs[kind]) for kind, bundle in behavioural.items()
        }
        pos = self.positions(ids)
        old, new = np.flatnonzero(pos >= 0), np.flatnonzero(pos < 0)
        for j in old:
            _set_row(self.features, int(pos[j]), feats.iloc[[j]])
            for kind in behavioural:
                _set_row(self.frames[kind], int(pos[j]), inputs[kind].iloc[[j]])
                if self.matrices.get(kind) is not None:
                    self.matrices[kind][pos[j]] = matrix_rows[kind][j]
        if new.size:
            # Containers are replaced, not grown in place: readers hold the old ones.
            self.features = pd.concat([self.features, feats.iloc[new]])
            for kind in behavioural:
                self.frames[kind] = pd.concat([self.frames[kind], inputs[kind].iloc[new]])
                if self.matrices.get(kind) is not None:
                    self.matrices[kind] = np.vstack([self.matrices[kind], matrix_rows[kind][new]])
            empty = sp.csr_matrix((new.size, self.history.shape[1]), dtype=self.history.dtype)
            self.history = sp.vstack([self.history, empty], format="csr")
            self._buyers = None
            pos = self.positions(ids)
        for cache in self._row_cache.values():
            for p in pos:
                cache.pop(int(p), None)
        history = self._interaction_rows(ids, rows)
        for j, customer in enumerate(ids):
            row = history[j]
            self.overrides[int(pos[j])] = row
            if self.recommender is not None:
                refresh_user_factors(self.recommender.model, self.recommender_code(customer), row)
        return ids

    def _rescore(self, feats: pd.DataFrame) -> pd.DataFrame:
        """R, F, M scores and segment of changed rows against the population at build."""
        pop = self._population
        r = _population_score(pop["r"], -feats[_RECENCY].to_numpy(dtype=float))
        f = _population_score(pop["f"], feats[s.FREQUENCY].to_numpy(dtype=float))
        m = _population_score(pop["m"], feats[_MONETARY].to_numpy(dtype=float))
        out = feats.copy()
        out[s.R_SCORE], out[s.F_SCORE], out[s.M_SCORE] = r, f, m
        out[s.RFM_SCORE] = pd.array(
            [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)], dtype="string"
        )
        out[s.SEGMENT] = rfm_segments(out)
        return out

    def _interaction_rows(self, customers: list[str], rows: pd.DataFrame) -> sp.csr_matrix:
        params = {
            k: v
            for k, v in self.interaction_params.items()
            if k not in ("weighting", "bm25_k1", "bm25_b")
        }
        counts = build_interactions(
            rows,
            self.as_of,
            weighting="count",
            user_ids=customers,
            item_ids=self.catalogue.item_ids,
            **params,
        ).matrix
        return self.weigher(counts)


# --- building ------------------------------------------------------------------------------


def build_state(
    models: ChampionModels,
    *,
    transactions: pd.DataFrame,
    events: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    last_event_seq: int = 0,
    live: bool = True,
) -> CustomerState:
    """Everything the service answers from, as of the day after the last line.

    Parameters
    ----------
    models
        The served model set.
    transactions
        Validated transactions of the data source (``ValidatedTransactions.kept``).
    events
        Raw stored event lines (:func:`training.event_store.read_events`), appended.
    items, customers
        Validated optional tables (indexed by id), as training used them.
    live
        False builds a read-only snapshot for batch scoring, in less memory:
        no booster matrices (scores go through the models' public API) and
        no per-customer transaction index, so events cannot be applied.
    """
    line_names = _line_names(transactions)
    tx = _canonical(transactions)
    n_events = 0
    if events is not None and len(events):
        ev = validate_transactions(events.drop(columns=["seq"], errors="ignore")).kept
        n_events = len(ev)
        tx = pd.concat([tx, _canonical(ev)], ignore_index=True)
    if len(tx) == 0 or (~tx[s.IS_RETURN]).sum() == 0:
        raise KizunaInputError("the data source holds no purchases: nothing to serve")
    as_of = tx[s.TIMESTAMP].max().floor("D") + pd.Timedelta(days=1)
    bundles = {kind: b for kind in ("churn", "ltv") if (b := getattr(models, kind)) is not None}
    unit = next((b.btyd_unit for b in bundles.values()), "W")
    features = customer_features(tx, as_of, customers=customers, items=items, btyd_unit=unit)
    frames = {kind: _model_frame(features, b, customers) for kind, b in bundles.items()}
    matrices = {
        kind: input_matrix(b, frames[kind]) if live else None for kind, b in bundles.items()
    }

    rec = models.recommender
    params = dict(rec.interaction_params) if rec is not None else {}
    catalogue = build_catalogue(
        tx,
        as_of,
        item_ids=None if rec is None else rec.item_ids,
        items=items,
        recommender=rec,
        line_names=line_names,
    )
    count_params = {k: v for k, v in params.items() if k not in ("weighting", "bm25_k1", "bm25_b")}
    counts = build_interactions(
        tx,
        as_of,
        weighting="count",
        user_ids=features.index,
        item_ids=catalogue.item_ids,
        **count_params,
    ).matrix
    weigher = RowWeigher.fit(counts, params)
    history = weigher(counts)
    cold_start = ColdStartRecommender().fit(
        counts,
        recent_items=catalogue.recent_buyers,
        item_categories=pd.array(catalogue.categories, dtype="string"),
    )
    return CustomerState(
        as_of=as_of,
        features=features,
        frames=frames,
        matrices=matrices,
        catalogue=catalogue,
        history=history,
        preferences=_preferences(customers),
        bundles=bundles,
        recommender=rec,
        interaction_params=params,
        weigher=weigher,
        transactions=_sorted_by_customer(tx) if live else tx.iloc[:0],
        customers=customers,
        items=items,
        last_event_seq=last_event_seq,
        events_applied=n_events,
        cold_start=cold_start,
        live=live,
    )


def refresh_user_factors(model: Any, user_code: int, row: sp.csr_matrix) -> bool:
    """Re-solve a known customer's latent factors from their new history row.

    Factor models (ALS, alone or inside the hybrid) keep one factor row per
    training customer; after new purchases that row is re-solved against the
    fixed item factors, as implicit's ``recalculate_user`` does, so the
    customer's recommendations move at once. Models without user factors
    read the history row on every call and need nothing. Returns whether a
    factor row was changed.
    """
    if user_code < 0:
        return False  # unseen at fit time: factor models solve from the row on each call
    if hasattr(model, "update_user"):
        model.update_user(user_code, row)
        return True
    changed = False
    for part in (model, getattr(model, "als_", None)):
        factors = getattr(part, "user_factors_", None)
        solve = getattr(part, "_user_factors", None)
        if factors is None or solve is None or not hasattr(part, "model_"):
            continue
        if user_code < factors.shape[0]:
            factors[user_code] = solve(np.array([-1]), row)[0]
            changed = True
    return changed


def _model_frame(
    features: pd.DataFrame, bundle: TabularBundle, customers: pd.DataFrame | None
) -> pd.DataFrame:
    if bundle.mode != "contractual":
        return tabular_frame(features, bundle)
    # A contractual model reads the customers table, not purchase behaviour.
    if customers is None:
        raise KizunaInputError(
            "the contractual churn model needs the customers table "
            "(data.customers in the experiment)"
        )
    missing = [c for c in bundle.feature_columns if c not in customers.columns]
    if missing:
        raise KizunaInputError(f"the customers table lacks model columns {missing[:5]}")
    return customers


def _line_names(transactions: pd.DataFrame) -> pd.Series | None:
    """Most frequent ``description`` per item (Online Retail carries one per line)."""
    if "description" not in transactions.columns:
        return None
    lines = transactions[[s.ITEM_ID, "description"]].dropna()
    if lines.empty:
        return None
    top = (
        lines.groupby([s.ITEM_ID, "description"], observed=True)
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["n", "description"], ascending=[False, True], kind="stable")
        .drop_duplicates(s.ITEM_ID)
    )
    return pd.Series(
        top["description"].astype(str).str.strip().to_numpy(dtype=object),
        index=top[s.ITEM_ID].astype(str).to_numpy(),
    )


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the columns features use (an export's extra columns would cost memory)."""
    return frame[[c for c in _TX_COLUMNS if c in frame.columns]]


def _clip_to(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    late = lines[s.TIMESTAMP] >= as_of
    if not late.any():
        return lines
    out = lines.copy()
    out.loc[late, s.TIMESTAMP] = as_of - pd.Timedelta(microseconds=1)
    return out


def _sorted_by_customer(tx: pd.DataFrame) -> pd.DataFrame:
    order = np.argsort(tx[s.CUSTOMER_ID].to_numpy(dtype=object), kind="stable")
    return tx.iloc[order].reset_index(drop=True)


def _group_bounds(tx: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """Customer ids of a customer-sorted frame and their row boundaries, shape (n + 1,)."""
    ids = tx[s.CUSTOMER_ID].to_numpy(dtype=object)
    if len(ids) == 0:
        return pd.Index([], dtype=object), np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return pd.Index(ids[starts]), np.r_[starts, len(ids)].astype(np.int64)


def _population_score(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Quintile score 1..5 as ``features.segments.rfm_scores`` (ties 'min') gives it."""
    n = max(len(sorted_values), 1)
    below = np.searchsorted(sorted_values, values, side="left")
    return np.minimum(1 + (N_SCORES * below.astype(np.int64)) // n, N_SCORES)


def _set_row(frame: pd.DataFrame, pos: int, row: pd.DataFrame) -> None:
    for j, col in enumerate(frame.columns):
        if col in row.columns:
            frame.iloc[pos, j] = row[col].iloc[0]


def _preferences(customers: pd.DataFrame | None) -> dict[str, list[str]]:
    if customers is None or s.PREFERRED_CATEGORIES not in customers.columns:
        return {}
    prefs = customers[s.PREFERRED_CATEGORIES].dropna()
    out: dict[str, list[str]] = {}
    for cid, text in zip(prefs.index.astype(str), prefs.astype(str), strict=True):
        names = [p.strip() for p in text.split(s.PREFERENCE_SEP) if p.strip()]
        if names:
            out[cid] = names
    return out


# --- the served snapshot and its life cycle ----------------------------------------------


@dataclass
class Served:
    """One model set with the customer state built for it: what a request reads.

    A request takes the current ``Served`` once and uses it throughout, so a
    reload that swaps in a new one never mixes two model versions in one answer.
    """

    models: ChampionModels
    state: CustomerState
    loaded_at: pd.Timestamp

    @property
    def versions(self) -> dict[str, int | str | None]:
        """Registry version per model kind; None for a kind the set lacks."""
        return {
            kind: (
                self.models.versions.get(kind) if getattr(self.models, kind) is not None else None
            )
            for kind in ("recommender", "churn", "ltv")
        }


def load_models(source: str, *, alias: str = "champion") -> ChampionModels:
    """The model set at ``source``: ``"registry"`` (MLflow aliases) or a local folder."""
    from pathlib import Path

    from kizuna.training.artifacts import load_champions_from_folder

    if source == "registry":
        from kizuna.training import tracking

        loader = getattr(tracking, "load_champions", None)
        if loader is None:
            raise KizunaInputError(
                "this kizuna cannot read the registry yet "
                "(training.tracking.load_champions is missing)"
            )
        return loader(alias=alias)
    return load_champions_from_folder(Path(source))


def source_versions(source: str, alias: str = "champion") -> dict[str, Any]:
    """Version per model kind that ``source`` offers now, without loading any model."""
    import json
    from pathlib import Path

    from kizuna.training.artifacts import VERSIONS_FILE

    if source == "registry":
        import mlflow

        from kizuna.training import tracking

        mlflow.set_tracking_uri(tracking.tracking_uri())
        out = {}
        for kind, name in tracking.REGISTERED_NAMES.items():
            version = tracking.current_alias_version(name, alias)
            if version is not None:
                out[kind] = int(version.version)
        return out
    path = Path(source) / VERSIONS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def prepare_models(models: ChampionModels) -> None:
    """Serving settings on loaded estimators: one LightGBM thread per prediction."""
    for kind in ("churn", "ltv"):
        bundle = getattr(models, kind)
        if bundle is not None and hasattr(bundle.model, "num_threads"):
            bundle.model.num_threads = 1


def load_served(
    source: str, *, alias: str = "champion", store: Any = None, live: bool = True
) -> Served:
    """Load the model set and build its customer state from its experiment's data.

    Parameters
    ----------
    source, alias
        See :func:`load_models`.
    store
        A :class:`training.event_store.EventStore` whose lines are appended to the data.
    live
        See :func:`build_state` (False for batch scoring).
    """
    from kizuna.training.data import load_tables, load_transactions

    models = load_models(source, alias=alias)
    prepare_models(models)
    if models.experiment is None:
        raise KizunaInputError(
            "the model set records no experiment, so the customer data "
            "it was trained on cannot be found"
        )
    data = models.experiment.data
    kept = load_transactions(data, quiet=True).kept  # the set-aside rows are not needed
    items, customers = load_tables(data)
    events = store.read() if store is not None else None
    last_seq = int(events["seq"].max()) if events is not None and len(events) else 0
    state = build_state(
        models,
        transactions=kept,
        events=events,
        items=items,
        customers=customers,
        last_event_seq=last_seq,
        live=live,
    )
    return Served(models=models, state=state, loaded_at=pd.Timestamp.now(tz="UTC"))


def _settle_memory() -> None:
    """Collect the old snapshot, then exempt the new one from future GC passes.

    A snapshot is millions of long-lived Python objects; a full garbage
    collection that walks them all stalls a request by a few hundred
    milliseconds. ``gc.freeze`` moves them out of the collector's sight.
    """
    import gc

    gc.collect()
    gc.freeze()


@dataclass
class ReloadOutcome:
    reloaded: bool
    message: str
    versions: dict[str, Any]
    previous_versions: dict[str, Any]
    error: str | None = None
    busy: bool = False  # refused because another reload was running


class Live:
    """The served snapshot, swapped atomically by reloads, fed by purchase events.

    Reads never lock: ``current`` is one attribute read. Event application and
    the final step of a reload (catching up on events stored while the new
    state was built, then the swap) share one lock, so no event is lost
    between two snapshots. An update changes one customer's rows in place
    and replaces (never resizes in place) the containers a reader indexes,
    so a read that runs beside it sees that customer before or after the
    update, or briefly a mix of the two, but never a broken structure.
    """

    def __init__(self, source: str, *, alias: str = "champion", store: Any = None) -> None:
        self.source = source
        self.alias = alias
        self.store = store
        self.served: Served | None = None
        self.last_error: str | None = None
        self._apply_lock = threading.Lock()
        self._reload_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.served is not None

    @property
    def degraded(self) -> dict[str, str]:
        """Model kinds of the served set that failed to load -> cause (their endpoints 503)."""
        served = self.served
        return dict(getattr(served.models, "broken", {}) or {}) if served is not None else {}

    def readiness(self) -> tuple[bool, str | None, dict[str, str]]:
        """(ready, why not, degraded kinds): what ``/readyz`` reports."""
        if self.served is None:
            why = self.last_error or "models are still loading"
            return False, f"no models loaded: {why}", {}
        return True, None, self.degraded

    def upstream_changed(self) -> bool:
        """Whether the source now names other versions than the ones served (for polling)."""
        served = self.served
        serving = {k: v for k, v in (served.versions if served else {}).items() if v is not None}
        return source_versions(self.source, self.alias) != serving

    def current(self) -> Served | None:
        """The snapshot to answer from, after folding in events other processes stored."""
        served = self.served
        if served is not None and self.store is not None and self.store.changed():
            with self._apply_lock:
                self._catch_up(served)
        return served

    def load(self) -> ReloadOutcome:
        """Build a new snapshot and swap it in; on failure keep serving the old one."""
        previous = self.served.versions if self.served is not None else {}
        if not self._reload_lock.acquire(blocking=False):
            return ReloadOutcome(
                False,
                "a reload is already running; try again shortly",
                previous,
                previous,
                busy=True,
            )
        try:
            kept = "kept serving the previous models" if self.served else "no models loaded"
            try:
                new = load_served(self.source, alias=self.alias, store=self.store)
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old models serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                return ReloadOutcome(
                    False, f"reload failed; {kept}", previous, previous, error=self.last_error
                )
            broken = getattr(new.models, "broken", {}) or {}
            if broken and self.served is not None:
                # A partly broken set never replaces a working one; at start-up it
                # serves what loaded (the broken kinds' endpoints answer 503).
                self.last_error = "; ".join(broken.values())
                return ReloadOutcome(
                    False, f"reload failed; {kept}", previous, previous, error=self.last_error
                )
            with self._apply_lock:
                self._catch_up(new)
                self.served = new
            _settle_memory()
            self.last_error = "; ".join(broken.values()) or None
            same = "versions unchanged" if new.versions == previous else "new versions"
            return ReloadOutcome(True, f"reloaded ({same})", new.versions, previous)
        finally:
            self._reload_lock.release()

    def ingest(self, lines: pd.DataFrame) -> tuple[Any, int]:
        """Store validated event lines durably, then fold every new stored line in.

        Returns
        -------
        (AppendResult, number of customers updated)
        """
        result = self.store.append(lines)
        return result, self.catch_up()

    def catch_up(self) -> int:
        """Fold every stored line the served snapshot has not seen; return customers updated."""
        with self._apply_lock:
            return self._catch_up(self.served) if self.served is not None else 0

    def _catch_up(self, served: Served) -> int:
        fresh = self.store.read(after=served.state.last_event_seq) if self.store else None
        if fresh is None or len(fresh) == 0:
            return 0
        kept = validate_transactions(fresh.drop(columns=["seq"])).kept
        return len(served.state.apply_events(kept, last_seq=int(fresh["seq"].max())))
