"""Benchmark: who should get the win-back coupon? Uplift targeting against churn targeting.

On the simulated campaign of features/campaign.py (a synthetic shop, one 15 % win-back
coupon, half the customers held out by hash), each run:

1. splits customers by hash into a training and a test half;
2. learns uplift (T- and X-learner, LightGBM) and a churn model (LightGBM on the
   control group: P(no purchase without the offer)) on the training half;
3. on the test half, lets each policy pick at most ``budget`` customers (the same number
   of contacts for all) and sums the *true* expected incremental profit of the customers
   it picked (known from the simulation's ground truth).

Policies: ``decide`` with the learned uplift (contacts only where the expected value is
positive); ``decide`` with the assumed save rate (churn x value x 15 %); churn only (the
highest churn probabilities); churn oracle (the true churn probability, which no model
has: for reference); random; and the best possible (the true top).

Also prints ranking quality on the test half: normalised Qini, AUUC and uplift in the
top 10 % for the learned uplift, the churn score and the true uplift. Medians over
``--runs`` runs (different shops and campaigns), with the range.

    .venv/bin/python benchmarks/bench_uplift.py --customers 20000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kizuna.features.control_groups import hash_units
from kizuna.models.churn import ChurnClassifier
from kizuna.models.next_best_offer import decide
from kizuna.models.offer_loading import load_offers
from kizuna.models.uplift import TLearner, XLearner
from kizuna.simulators.campaign import CampaignConfig, simulate_campaign
from kizuna.simulators.synthetic import ShopConfig, generate_shop
from kizuna.training.metrics_uplift import auuc, qini_coefficient, uplift_at_k

POLICIES = (
    "uplift (X-learner)",
    "uplift (T-learner)",
    "assumed save rate",
    "churn only",
    "churn oracle",
    "random",
    "best possible",
)
SCORES = ("X-learner", "T-learner", "churn model", "true uplift")


def one_run(n_customers: int, run: int, budgets: list[float]) -> dict:
    shop = generate_shop(ShopConfig(n_customers=n_customers, seed=100 + run))
    sim = simulate_campaign(shop, CampaignConfig(), seed=run)
    cfg = sim.config
    X, o, truth = sim.features, sim.outcomes, sim.truth
    train = hash_units(X.index, f"bench-split-{run}") < 0.5
    test = ~train
    t, y = o["treated"].to_numpy().astype(int), o["outcome"].to_numpy()
    start = time.perf_counter()
    learners = {
        "X-learner": XLearner(random_state=run).fit(X[train], t[train], y[train]),
        "T-learner": TLearner(random_state=run).fit(X[train], t[train], y[train]),
    }
    control = train & (t == 0)
    churn_model = ChurnClassifier(
        n_estimators=100,
        num_leaves=7,
        min_child_samples=100,
        calibration=None,
        n_jobs=1,
        random_state=run,
    )
    churn_model.fit(X[control], 1 - y[control])
    fit_seconds = time.perf_counter() - start
    tx = X[test]
    churn = churn_model.predict_proba(tx)[:, 1]
    scores = tx.reset_index().assign(
        churn_probability=churn, predicted_value=tx["monetary_mean"].to_numpy(),
        days_since_last_purchase=tx["recency_days"].to_numpy(),
    )  # fmt: skip
    catalogue = load_offers(
        {
            "margin": cfg.margin,
            "offers": [
                {
                    "offer_id": cfg.offer_id,
                    "type": "win_back",
                    "save_rate": 0.15,
                    "cost": {"fixed": cfg.fixed_cost, "discount_share": cfg.discount_share},
                }
            ],
        }
    )

    def values(uplift: dict | None) -> np.ndarray:
        decided = decide(scores, catalogue, uplift=uplift, explain=False)
        return decided["expected_value"].to_numpy()

    ev = {
        "uplift (X-learner)": values({cfg.offer_id: learners["X-learner"]}),
        "uplift (T-learner)": values({cfg.offer_id: learners["T-learner"]}),
        "assumed save rate": values(None),
    }
    profit = truth.loc[test, "true_profit_uplift"].to_numpy()
    true_churn = 1 - truth.loc[test, "p_control"].to_numpy()
    rng = np.random.default_rng(run)
    tie_break = rng.random(profit.size)
    out: dict = {
        "profit": {},
        "contacts": {},
        "fit_seconds": fit_seconds,
        "n_test": int(test.sum()),
    }
    for budget in budgets:
        n = int(budget * profit.size)
        picks = {}
        for name, values in ev.items():
            chosen = np.argsort(-values, kind="stable")[:n]
            picks[name] = chosen[values[chosen] > 0]
        picks["churn only"] = np.argsort(-churn, kind="stable")[:n]
        picks["churn oracle"] = np.lexsort((tie_break, -true_churn))[:n]  # ties at churn 1
        picks["random"] = rng.choice(profit.size, n, replace=False)
        best = np.argsort(-profit)[:n]
        picks["best possible"] = best[profit[best] > 0]
        out["profit"][budget] = {k: float(profit[v].sum()) for k, v in picks.items()}
        out["contacts"][budget] = {k: int(v.size) for k, v in picks.items()}
    yt, tt = y[test], t[test]
    rank_scores = {
        "X-learner": learners["X-learner"].predict_uplift(tx),
        "T-learner": learners["T-learner"].predict_uplift(tx),
        "churn model": churn,
        "true uplift": truth.loc[test, "true_uplift"].to_numpy(),
    }
    out["ranking"] = {
        k: {"qini": qini_coefficient(yt, tt, v), "auuc": auuc(yt, tt, v),
            "uplift@10%": uplift_at_k(yt, tt, v, 0.1)}
        for k, v in rank_scores.items()
    }  # fmt: skip
    null = [qini_coefficient(yt, tt, rng.random(yt.size)) for _ in range(50)]
    out["null_qini_sd"] = float(np.std(null))
    return out


def _med(values: list[float], fmt: str) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} [{format(min(values), fmt)}, {format(max(values), fmt)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.2])
    args = parser.parse_args()
    runs = [one_run(args.customers, r, args.budgets) for r in range(args.runs)]
    print(
        f"Synthetic campaign: {args.customers:,} customers per shop, {args.runs} runs "
        f"(shop seeds 100..{99 + args.runs}); test half about {runs[0]['n_test']:,} "
        "customers. Median [min, max] over runs.\n"
    )
    print(
        "True incremental profit of the customers each policy contacts, at equal budget "
        "(contacts allowed = budget x test customers):\n"
    )
    header = (
        "| policy | "
        + " | ".join(
            f"profit @ {b:.0%} | contacts @ {b:.0%} | vs churn only @ {b:.0%}" for b in args.budgets
        )
        + " |"
    )
    print(header)
    print("|" + "---|" * (1 + 3 * len(args.budgets)))
    for policy in POLICIES:
        cells = []
        for b in args.budgets:
            prof = [r["profit"][b][policy] for r in runs]
            diff = [r["profit"][b][policy] - r["profit"][b]["churn only"] for r in runs]
            cont = [r["contacts"][b][policy] for r in runs]
            cells += [_med(prof, ",.0f"), _med(cont, ",.0f"), _med(diff, "+,.0f")]
        print(f"| {policy} | " + " | ".join(cells) + " |")
    print(
        "\nRanking quality on the test half (normalised Qini: 0 random, 1 perfect; AUUC in "
        "purchases per customer; uplift@10%: treated minus control purchase rate in the top "
        "10 %):\n"
    )
    print("| score | Qini | AUUC | uplift@10% |")
    print("|---|---|---|---|")
    for name in SCORES:
        vals = [r["ranking"][name] for r in runs]
        print(
            f"| {name} | {_med([v['qini'] for v in vals], '.3f')} | "
            f"{_med([v['auuc'] for v in vals], '.4f')} | "
            f"{_med([v['uplift@10%'] for v in vals], '+.3f')} |"
        )
    print(
        f"\nRandom orderings: Qini sd {_med([r['null_qini_sd'] for r in runs], '.3f')} "
        "(50 shuffles per run). Fit time (X + T learners and churn model, training half): "
        f"{_med([r['fit_seconds'] for r in runs], '.1f')} s."
    )


if __name__ == "__main__":
    main()
