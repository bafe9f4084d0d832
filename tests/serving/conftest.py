"""A small model set for the service, built without MLflow, and a real server on loopback.

:func:`build_model_set` generates a synthetic shop, fits small churn, LTV,
BTYD and recommender models directly, and writes them with
``training.artifacts.save_champions``; the service reads that folder through
``KIZUNA_MODEL_SOURCE``. The server fixture starts ``bentoml serve`` once per
session in a subprocess on a free loopback port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
HORIZON_DAYS = 90


@dataclass(frozen=True)
class ModelSet:
    folder: Path
    shop_dir: Path
    transactions: pd.DataFrame  # the shop's raw transactions


def build_model_set(
    folder: Path,
    *,
    seed: int = 1,
    n_customers: int = 400,
    n_items: int = 60,
    versions: dict[str, int] | None = None,
    shop_dir: Path | None = None,
) -> ModelSet:
    """Write a complete model set (recommender, churn, LTV) to ``folder``.

    ``shop_dir`` reuses the data of another set (so a second version serves
    the same customers).
    """
    from kizuna.features import schema as s
    from kizuna.features.interactions import build_interactions
    from kizuna.features.pipeline import customer_labels
    from kizuna.features.validate import validate_transactions
    from kizuna.models.bundles import ChampionModels, RecommenderBundle, TabularBundle
    from kizuna.models.churn import ChurnClassifier
    from kizuna.models.ltv import LTVRegressor
    from kizuna.models.recommenders import HybridRecommender
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.artifacts import save_champions
    from kizuna.training.config import DataConfig, ExperimentConfig, SplitConfig
    from kizuna.training.data import load_tables
    from kizuna.training.shop_io import write_shop
    from kizuna.training.snapshot_build import write_snapshot
    from kizuna.training.snapshots import model_inputs

    folder = Path(folder)
    if shop_dir is None:
        shop_dir = folder.parent / f"{folder.name}-shop"
        shop = generate_shop(
            ShopConfig(
                n_customers=n_customers,
                n_items=n_items,
                seed=seed,
                start="2023-01-01",
                end="2024-07-01",
            )
        )
        write_shop(shop, shop_dir)
    data = DataConfig(
        transactions=shop_dir / "transactions.parquet",
        items=shop_dir / "items.parquet",
        customers=shop_dir / "customers.parquet",
    )
    raw = pd.read_parquet(data.transactions)
    tx = validate_transactions(raw).kept
    items, customers = load_tables(data)
    end = tx[s.TIMESTAMP].max().floor("D") + pd.Timedelta(days=1)
    t_val = end - pd.Timedelta(days=HORIZON_DAYS)
    t_train = t_val - pd.Timedelta(days=HORIZON_DAYS)

    def snapshot(as_of: pd.Timestamp, bgnbd=None, gamma_gamma=None):
        X, bg, gg = model_inputs(
            tx,
            as_of,
            horizon_days=HORIZON_DAYS,
            customers=customers,
            items=items,
            bgnbd=bgnbd,
            gamma_gamma=gamma_gamma,
        )
        labels = customer_labels(tx, as_of, horizon_days=HORIZON_DAYS)
        return X.loc[labels.index], labels, bg, gg

    X_tr, y_tr, bgnbd, gamma_gamma = snapshot(t_train)
    X_va, y_va, _, _ = snapshot(t_val, bgnbd, gamma_gamma)
    columns = list(X_tr.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        churn = ChurnClassifier(n_estimators=40, calibration="sigmoid", n_jobs=1).fit(
            X_tr, y_tr[s.CHURN], X_val=X_va, y_val=y_va[s.CHURN]
        )
        ltv = LTVRegressor(n_estimators=40, n_jobs=1).fit(
            X_tr, y_tr[s.FUTURE_VALUE], X_val=X_va, y_val=y_va[s.FUTURE_VALUE]
        )
    tabular = dict(
        feature_columns=columns,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        btyd_unit="W",
        horizon_days=HORIZON_DAYS,
        trained_until=t_train,
    )

    params = {"weighting": "count"}
    inter = build_interactions(tx, end, **params)
    recent = build_interactions(
        tx, end, **params, user_ids=inter.user_ids, item_ids=inter.item_ids, half_life_days=14.0
    )
    categories = items[s.CATEGORY].reindex(inter.item_ids).to_numpy(dtype=object)
    recommender = HybridRecommender(als_factors=8, als_iterations=3, knn_neighbours=20).fit(
        inter.matrix, recent_items=recent.matrix, item_categories=categories
    )
    experiment = ExperimentConfig(
        name="serving-test",
        data=data,
        split=SplitConfig(as_of=t_val.date(), horizon_days=HORIZON_DAYS),
        offers=ROOT / "experiments" / "offers_demo.yaml",
    )
    prices = tx.groupby(s.ITEM_ID)[s.UNIT_PRICE].median().reindex(inter.item_ids).to_numpy()
    champions = ChampionModels(
        recommender=RecommenderBundle(
            model=recommender,
            item_ids=inter.item_ids,
            user_ids=inter.user_ids,
            interaction_params=params,
            item_categories=pd.Series(categories),
            history=inter.matrix,
            trained_until=end,
            item_prices=prices,
            # what training measures on its holdout; a plausible decreasing rate here
            purchase_rate_by_rank=np.linspace(0.2, 0.02, 10),
        ),
        churn=TabularBundle(model=churn, **tabular),
        ltv=TabularBundle(model=ltv, **tabular),
        versions=versions or {"recommender": 1, "churn": 1, "ltv": 1},
        experiment=experiment,
    )
    save_champions(champions, folder)
    write_snapshot(
        folder / "snapshot",
        champions,
        tx,
        items=items,
        customers=customers,
        experiment=experiment.name,
        offers=experiment.offers,
    )
    return ModelSet(folder=folder, shop_dir=shop_dir, transactions=raw)


@pytest.fixture(scope="session")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> ModelSet:
    return build_model_set(tmp_path_factory.mktemp("serving") / "models")


def serve_command(port: int) -> list[str]:
    """``bentoml serve`` of the kizuna service on loopback at ``port``."""
    from kizuna.training.cli_serve import SERVICE

    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip


def stop_tree(pid: int, *, timeout: float = 20) -> None:
    """Terminate a process and every descendant; kill what is left after ``timeout`` s.

    BentoML starts each worker in a session of its own, so the workers are
    found as the main process's descendants and signalled by pid.
    """
    import psutil

    try:
        main = psutil.Process(pid)
        procs = [*main.children(recursive=True), main]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A ``bentoml serve`` subprocess on loopback; ``restart`` keeps its port and settings."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 120, probe: str = "/readyz") -> Server:
        """Start and wait until ``probe`` answers 200."""
        import httpx

        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                serve_command(self.port),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}{probe}", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server and its workers (SIGKILL with ``crash``: no clean shutdown).

        BentoML starts each worker in a session of its own, so the workers are
        found as the main process's descendants and signalled by pid.
        """
        import psutil

        if self.process is None or self.process.poll() is not None:
            return
        main = psutil.Process(self.process.pid)
        procs = [*main.children(recursive=True), main]
        for proc in procs if crash else [main]:
            try:
                proc.kill() if crash else proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=20)
        for proc in alive:
            proc.kill()
        psutil.wait_procs(alive, timeout=10)

    def restart(self, *, crash: bool = False) -> Server:
        self.stop(crash=crash)
        return self.start()


def start_server(env_overrides: dict[str, str], log: Path, *, probe: str = "/readyz") -> Server:
    """``bentoml serve`` on a free loopback port; returns once ``probe`` is green."""
    env = {
        **os.environ,
        "BENTOML_HOME": str(log.parent / "bentoml-home"),
        "OMP_NUM_THREADS": "1",
        **env_overrides,
    }
    return Server(free_port(), env, log).start(probe=probe)


API_KEY = "test-key-0123456789abcdef"
AUTH = {"X-API-Key": API_KEY}
MARKER = "Z\u00fcrich-\u6771\u4eac-SECRET-4711"  # must never reach the log


@pytest.fixture(scope="session")
def server(model_set: ModelSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server serves a copy of the model set, which the reload tests change."""
    import shutil

    folder = tmp_path_factory.mktemp("server")
    shutil.copytree(model_set.folder, folder / "models")
    srv = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder / "models"),
            "KIZUNA_EVENT_STORE": str(folder / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(folder / "contacts.sqlite"),
            "KIZUNA_REPORT": str(folder / "report.html"),
            "KIZUNA_API_KEY": API_KEY,
            "KIZUNA_MAX_BATCH": "2000",
            "KIZUNA_MAX_BODY_BYTES": "200000",
        },
        folder / "server.log",
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def raw(server: Server):
    """httpx on the session server, with the API key: for status codes and raw bodies."""
    import httpx

    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def known(model_set: ModelSet) -> list[str]:
    """The 20 customers with the most orders."""
    purchases = model_set.transactions[model_set.transactions["quantity"] > 0]
    counts = purchases.groupby("customer_id")["order_id"].nunique().sort_values(ascending=False)
    return [str(c) for c in counts.index[:20]]


@pytest.fixture(scope="session")
def client(server: Server):
    import bentoml

    with bentoml.SyncHTTPClient(server.url, token=API_KEY, timeout=30) as c:
        yield c


@pytest.fixture
def live(model_set: ModelSet, tmp_path: Path):
    """A freshly loaded snapshot (the test may change it) with its own event store."""
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import Live

    live = Live(str(model_set.folder), store=EventStore(tmp_path / "events.sqlite"))
    assert live.load().reloaded
    return live


def purchase(customer: str, item: str, when: pd.Timestamp, order: str = "NEW-1") -> pd.DataFrame:
    """One validated purchase line (2 units at 4.50), as ``/events`` would store it."""
    from kizuna.features import schema as s
    from kizuna.serving.event_checks import check_events

    raw = pd.DataFrame(
        {
            s.CUSTOMER_ID: [customer],
            s.ORDER_ID: [order],
            s.ITEM_ID: [item],
            s.TIMESTAMP: [when],
            s.QUANTITY: [2.0],
            s.UNIT_PRICE: [4.5],
        }
    )
    return check_events(raw, now=when + pd.Timedelta(days=1))


@pytest.fixture(scope="session")
def served(model_set: ModelSet, tmp_path_factory: pytest.TempPathFactory):
    """The same model set loaded in-process, for the scoring unit tests."""
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import load_served

    store = EventStore(tmp_path_factory.mktemp("inproc") / "events.sqlite")
    return load_served(str(model_set.folder), store=store)
