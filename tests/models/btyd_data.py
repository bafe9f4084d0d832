"""BTYD test data: published parameters, a fitted-by-hand model, and simulated BG/NBD customers."""

from __future__ import annotations

import numpy as np

#: Fader, Hardie and Lee's BG/NBD estimates on the CDNOW sample (weeks).
FHL_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: The parameters simulated customers are drawn with.
TRUE_BGNBD = {"r": 0.6, "alpha": 5.0, "a": 0.7, "b": 2.5}


def fitted(model_class: type, **params: float):
    """A model with given parameters, as if fitted."""
    model = model_class()
    model.params_ = dict(params)
    return model


def simulate_bgnbd(params: dict, T: np.ndarray, horizon: float, rng: np.random.Generator) -> dict:
    """Simulate BG/NBD customers observed over (0, T] and followed for ``horizon`` more.

    Returns frequency, recency, T, future purchases in (T, T + horizon] and
    whether each customer is alive at T, each shape (n,).
    """
    n = len(T)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    # Dropout comes right after the N-th repeat purchase, N ~ Geometric(p).
    n_before_dropout = rng.geometric(p)
    end = T + horizon
    arrivals = rng.poisson(lam * end)  # Poisson arrivals in (0, end] if never dropping out
    in_calibration = rng.binomial(arrivals, T / end)
    frequency = np.minimum(in_calibration, n_before_dropout)
    # x-th of in_calibration uniform arrival times on (0, T]
    recency = np.where(
        frequency > 0, T * rng.beta(np.maximum(frequency, 1), in_calibration - frequency + 1), 0.0
    )
    future = np.minimum(arrivals, n_before_dropout) - frequency
    alive = in_calibration < n_before_dropout
    return {
        "frequency": frequency.astype(float),
        "recency": recency,
        "T": T,
        "future": future,
        "alive": alive,
    }


def numerical_hessian(gradient, point: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of ``gradient`` around ``point``, symmetrised: shape (d, d)."""
    columns = [
        (gradient(point + step * e) - gradient(point - step * e)) / (2 * step)
        for e in np.eye(len(point))
    ]
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2
