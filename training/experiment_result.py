"""What one ``kizuna train`` run did: metrics per model kind and the registry's decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kizuna.training import registration


@dataclass
class ExperimentResult:
    """What one ``kizuna train`` run did: metrics per model and registry decisions."""

    name: str
    run_id: str
    fingerprint: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    registry: dict[str, registration.AliasDecision] = field(default_factory=dict)
    #: Next-order predictions on the holdout (``next_order_*`` metrics).
    next_order: dict[str, float] = field(default_factory=dict)

    def comparison(self) -> pd.DataFrame:
        """One row per (model kind, model or baseline) with its metrics.

        Returns
        -------
        pandas.DataFrame
            One row per (kind, model), metric columns.
        """
        rows = []
        for kind, result in self.results.items():
            selection = getattr(result, "selection", None)
            served = selection is not None and selection.baseline_served
            rows.append(
                {
                    "kind": kind,
                    "model": f"served: {selection.served}" if served else "kizuna",
                    "primary": result.primary_metric,
                    **result.metrics,
                }
            )
            for name, metrics in result.baselines.items():
                rows.append(
                    {
                        "kind": kind,
                        "model": f"baseline: {name}",
                        "primary": result.primary_metric,
                        **metrics,
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.name,
            "run_id": self.run_id,
            "fingerprint": self.fingerprint,
            "models": {
                kind: {
                    "primary_metric": r.primary_metric,
                    "metrics": r.metrics,
                    "baselines": r.baselines,
                    "extra_metrics": r.extra_metrics,
                    "served": getattr(getattr(r, "selection", None), "served", "kizuna"),
                    "selection": getattr(getattr(r, "selection", None), "reason", ""),
                }
                for kind, r in self.results.items()
            },
            "registry": {kind: vars(d) for kind, d in self.registry.items()},
            "next_order": {k: v for k, v in self.next_order.items() if "_bin" not in k},
        }
