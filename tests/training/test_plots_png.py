"""Figures drawn once, as PNG, by the thread that made them."""

from __future__ import annotations

import numpy as np

from kizuna.training import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_figures_become_png_and_png_passes_through():
    y = np.array([0, 1, 0, 1, 1])
    figure = plots.roc_figure(y, {"model": np.array([0.1, 0.8, 0.3, 0.6, 0.9])})
    drawn = plots.to_png({"roc.png": figure, "already.png": PNG_MAGIC + b"rest"})
    assert drawn["roc.png"].startswith(PNG_MAGIC)
    assert len(drawn["roc.png"]) > 1_000  # a drawn chart, not an empty canvas
    assert drawn["already.png"] == PNG_MAGIC + b"rest"
    # Drawing is deterministic: the same figure gives the same bytes.
    assert plots.to_png({"roc.png": figure})["roc.png"] == drawn["roc.png"]
