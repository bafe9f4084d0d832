"""The servers of the serving benchmark: start one and wait for it, stop it, a churn pyfunc for mlflow."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def start(
    command: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 300
) -> subprocess.Popen:
    """Start ``command`` and wait until ``ready_url`` answers 200 (its output goes to ``log``)."""
    import httpx

    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[2:5]} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"{command[2:5]} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server and its workers (BentoML puts each worker in its own session)."""
    from tests.serving.loopback import stop_tree

    if proc.poll() is None:
        stop_tree(proc.pid)


def pyfunc_for_churn(folder: Path, out: Path, example: Any) -> str:
    """Save the folder's churn bundle as an MLflow pyfunc (what the registry would hold)."""
    import mlflow
    from mlflow.models import infer_signature

    from kizuna.serving.model_store import load_bundle
    from kizuna.training.pyfunc import BundleModel

    wrapper = BundleModel("churn")
    wrapper.bundle = load_bundle(folder / "churn")
    signature = infer_signature(example, wrapper.predict(None, example))
    mlflow.pyfunc.save_model(
        out,
        python_model=BundleModel("churn"),
        artifacts={"bundle": str(folder / "churn" / "bundle.joblib")},
        signature=signature,
    )
    return str(out)
