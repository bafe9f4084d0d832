"""A Bento built with `bentoml build` starts ready from another folder, on its baked-in models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest

from tests.serving.loopback import start_on_free_port
from tests.serving.model_set import ROOT

# About half a minute: run with the other integration tests (a clean clone needs no setup).
pytestmark = pytest.mark.integration

SOURCES = ("features", "models", "serving", "training", "simulators")


def test_a_built_bento_serves_its_baked_models_from_anywhere(model_set, tmp_path):
    # A build context like a clean clone, with `kizuna export`'s folder layout baked in.
    ctx = tmp_path / "ctx"
    for name in SOURCES:
        shutil.copytree(ROOT / name, ctx / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "bentofile.yaml", ctx / "bentofile.yaml")
    shutil.copytree(model_set.folder, ctx / "bento_models")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KIZUNA_") and k != "MLFLOW_TRACKING_URI"
    }
    env.update(
        BENTOML_HOME=str(tmp_path / "bentoml-home"),
        KIZUNA_DATA_DIR=str(tmp_path / "data"),
        OMP_NUM_THREADS="1",
        BENTOML_DO_NOT_TRACK="True",
    )
    bentoml = [sys.executable, "-m", "bentoml"]
    built = subprocess.run(
        [*bentoml, "build", ".", "--output", "tag"],
        cwd=ctx,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    assert tag.startswith("kizuna:")
    shutil.rmtree(ctx)  # the Bento must not need its build context
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = start_on_free_port(
        env,
        tmp_path / "bento.log",
        command=lambda port: [*bentoml, "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
        cwd=elsewhere,
        timeout=240,
    )
    url = server.url
    try:
        status = httpx.post(url + "/status", timeout=30).json()
        assert status["customers"] > 0 and status["model_versions"]["churn"] == 1
        cid = str(model_set.transactions["customer_id"].iloc[0])
        offer = httpx.post(url + "/next_best_offer", json={"customer_id": cid}, timeout=30)
        assert offer.status_code == 200, offer.text  # the offer catalogue shipped with it
        line = {
            "customer_id": cid,
            "order_id": "BENTO-1",
            "item_id": "I00001",
            "timestamp": "2024-01-02T10:00:00",
            "quantity": 1,
            "unit_price": 2.0,
        }
        assert httpx.post(url + "/events", json={"events": [line]}, timeout=30).status_code == 200
        # outside the Bento, in the store of the experiment it was built for
        assert (tmp_path / "data" / "events" / "serving-test.sqlite").exists()
    finally:
        server.stop()
