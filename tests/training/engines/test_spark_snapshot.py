"""The customer snapshot built on Spark equals the pandas engine's, and the service loads it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from kizuna.features import schema as s
from tests.training.engines.compare import assert_frames_match
from tests.training.engines.test_spark_score import shop_data

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.serving.conftest import build_model_set

    return build_model_set(tmp_path_factory.mktemp("spark-snap") / "models")


@pytest.fixture
def no_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "events.sqlite"
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(store))
    return store


def build_both(spark: Any, model_set: Any, out: Path) -> tuple[Path, Path, Any]:
    """The pandas engine's snapshot and the Spark engine's, of the same data and models."""
    from kizuna.serving.live import load_models
    from kizuna.training.data import load_tables, load_transactions_and_events
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_snapshot import snapshot_parts
    from kizuna.training.engines.spark_validate import validate
    from kizuna.training.snapshot_build import write_snapshot, write_snapshot_parts

    data = shop_data(model_set)
    models = load_models(str(model_set.folder))
    items, customers = load_tables(data)
    validated, seq = load_transactions_and_events(data, quiet=True, experiment="x")
    common = {"items": items, "customers": customers, "experiment": "x", "last_event_seq": seq}
    write_snapshot(out / "pandas", models, validated.kept, **common)
    raw = read_raw(spark, data, experiment="x")
    assert raw.last_event_seq == seq
    kept = validate(raw, shards=3).kept
    parts = snapshot_parts(kept, models, items=items, customers=customers, partitions=3)
    write_snapshot_parts(out / "spark", models, parts, **common)
    return out / "pandas", out / "spark", models


def assert_snapshots_equal(left: Path, right: Path) -> None:
    """Every file of two snapshot folders holds the same content.

    Only the manifest's creation time and run, and the engine's own content
    hash of the data (each engine hashes in its own way) may differ.
    """
    from kizuna.serving import snapshot as fmt
    from kizuna.serving.transaction_log import INDEX_FILE, LINES_FILE

    manifests = [json.loads((d / fmt.MANIFEST_FILE).read_text()) for d in (left, right)]
    for m in manifests:
        m.pop("created_at")
        m.pop("run_id")
        m["data_fingerprint"].pop("dataset_hash", None)
    assert manifests[0] == manifests[1]
    assert sorted(p.name for p in left.iterdir()) == sorted(p.name for p in right.iterdir())
    features = [pd.read_parquet(d / fmt.FEATURES_FILE) for d in (left, right)]
    assert_frames_match(*features)
    assert features[0].dtypes.astype(str).equals(features[1].dtypes.astype(str))
    history = [sp.load_npz(d / fmt.HISTORY_FILE) for d in (left, right)]
    assert history[0].dtype == history[1].dtype and (history[0] != history[1]).nnz == 0
    for name in (fmt.CATALOGUE_FILE, fmt.CUSTOMERS_FILE, fmt.ITEMS_FILE, INDEX_FILE):
        assert pq.read_table(left / name).equals(pq.read_table(right / name)), name
    lines = [pa.ipc.open_file(pa.memory_map(str(d / LINES_FILE))).read_all() for d in (left, right)]
    assert lines[0].schema.equals(lines[1].schema, check_metadata=True)
    assert lines[0].equals(lines[1])
    fitted = [pickle.loads((d / fmt.FITTED_FILE).read_bytes()) for d in (left, right)]
    assert fitted[0]["preferences"] == fitted[1]["preferences"]
    assert fitted[0]["interaction_params"] == fitted[1]["interaction_params"]
    for key in ("weigher", "cold_start", "rfm_scorer"):
        a, b = vars(fitted[0][key]), vars(fitted[1][key])
        assert a.keys() == b.keys(), key
        for attr in a:
            np.testing.assert_equal(_plain(a[attr]), _plain(b[attr]), err_msg=f"{key}.{attr}")
    for kind in ("churn", "ltv"):
        stored = [np.load(d / fmt.INPUTS_FILE.format(kind=kind)) for d in (left, right)]
        np.testing.assert_allclose(stored[1], stored[0], rtol=1e-9)


def _plain(value: Any) -> Any:
    if sp.issparse(value):
        return value.toarray()
    if isinstance(value, pd.Index | pd.Series):
        return value.to_numpy()
    return value


def test_spark_snapshot_equals_the_pandas_snapshot_and_loads(spark, model_set, tmp_path, no_events):
    from kizuna.serving.snapshot import load_snapshot

    left, right, models = build_both(spark, model_set, tmp_path)
    assert_snapshots_equal(left, right)
    state = load_snapshot(right, models)
    expected = load_snapshot(left, models)
    assert state.n_customers == expected.n_customers > 0
    some = list(expected.features.index[:5])
    got, want = state.log.lines(some), expected.log.lines(some)
    pd.testing.assert_frame_equal(got, want)
    assert (state.history != expected.history).nnz == 0


def test_lines_file_streams_partitions_in_customer_order(spark, model_set, tmp_path, no_events):
    """Many small partitions and chunks: a customer's run continues across chunks."""
    from kizuna.serving.transaction_log import TransactionLog, write_transaction_log
    from kizuna.training.engines import spark_lines
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_validate import validate

    data = shop_data(model_set)
    kept = validate(read_raw(spark, data), shards=2).kept
    (tmp_path / "spark").mkdir()
    (tmp_path / "pandas").mkdir()
    n = spark_lines.write_lines(kept, tmp_path / "spark", partitions=5, chunk_rows=7)
    from kizuna.features.validate import validate_transactions

    tx = validate_transactions(pd.read_parquet(data.transactions)).kept
    assert n == write_transaction_log(tx, tmp_path / "pandas") == len(tx)
    logs = [TransactionLog(tmp_path / d) for d in ("pandas", "spark")]
    ids = sorted(tx[s.CUSTOMER_ID].astype(str).unique())[::17]
    pd.testing.assert_frame_equal(logs[1].lines(ids), logs[0].lines(ids))


@pytest.mark.integration
def test_snapshot_command_on_spark_registers_the_same_snapshot(
    spark, model_set, tmp_path, monkeypatch
):
    """``kizuna snapshot`` with ``engine: spark``, stored events included, against --engine pandas."""
    import yaml
    from typer.testing import CliRunner

    from kizuna.serving.model_registry import download_version
    from kizuna.serving.model_store import registered_name
    from kizuna.training.cli import app
    from tests.training.engines.registry import EXPERIMENT, register_folder
    from tests.training.engines.test_spark_reading import stored_events

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(tmp_path / "events.sqlite"))
    data = shop_data(model_set)
    register_folder(model_set.folder, data, tmp_path / "artifacts")
    n_events = stored_events(tmp_path / "events.sqlite", pd.read_parquet(data.transactions))
    experiment = {
        "name": EXPERIMENT,
        "data": {k: str(getattr(data, k)) for k in ("transactions", "items", "customers")},
        "split": {"as_of": "2024-04-01"},
        "engine": "spark",
    }
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump(experiment))
    summaries = {}
    for engine in ("pandas", None):  # None: the file's engine
        args = ["snapshot", str(config), "--json"] + (["--engine", engine] if engine else [])
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        summaries[engine or "spark"] = json.loads(result.stdout[result.stdout.index("{") :])
    left, right = summaries["pandas"], summaries["spark"]
    assert right["engine"] == "spark" and right["last_event_seq"] == n_events
    for key in ("as_of", "customers", "items", "lines", "last_event_seq", "model_versions"):
        assert right[key] == left[key], key
    name = registered_name(EXPERIMENT, "snapshot")
    folders = []
    for summary in (left, right):
        version = summary["registered"].rsplit(" v", 1)[1]
        local = download_version(name, version, tmp_path / f"snapshot-v{version}")
        folders.append(next(local.rglob("manifest.json")).parent)
    assert_snapshots_equal(*folders)


@pytest.mark.integration
def test_the_service_serves_the_spark_snapshot(spark, model_set, tmp_path, no_events):
    """A real server on loopback answers from the Spark-built snapshot as from the pandas one."""
    import shutil

    import bentoml

    from kizuna.serving.live import load_models
    from kizuna.training.data import load_tables
    from kizuna.training.engines.spark_io import read_raw
    from kizuna.training.engines.spark_snapshot import snapshot_parts
    from kizuna.training.engines.spark_validate import validate
    from kizuna.training.snapshot_build import write_snapshot_parts
    from tests.serving.conftest import API_KEY, start_server
    from tests.training.engines.test_spark_score import pandas_export

    folder = tmp_path / "models"
    shutil.copytree(model_set.folder, folder)
    original = json.loads((folder / "snapshot" / "manifest.json").read_text())
    offers = next((folder / "snapshot" / "offers").iterdir())
    shutil.copy(offers, tmp_path / offers.name)
    data = shop_data(model_set)
    models = load_models(str(folder))
    items, customers = load_tables(data)
    parts = snapshot_parts(validate(read_raw(spark, data)).kept, models, items=items,
                           customers=customers)  # fmt: skip
    write_snapshot_parts(
        folder / "snapshot", models, parts, items=items, customers=customers,
        experiment=original["experiment"], offers=tmp_path / offers.name,
    )  # fmt: skip
    expected = pandas_export(str(model_set.folder))  # the pandas engine's snapshot
    ids = list(expected.index[:: max(1, len(expected) // 25)])
    server = start_server(
        {
            "KIZUNA_MODEL_SOURCE": str(folder),
            "KIZUNA_EVENT_STORE": str(tmp_path / "events.sqlite"),
            "KIZUNA_CONTACT_LOG": str(tmp_path / "contacts.sqlite"),
            "KIZUNA_API_KEY": API_KEY,
        },
        tmp_path / "server.log",
    )
    try:
        with bentoml.SyncHTTPClient(server.url, token=API_KEY, timeout=60) as client:
            churn = client.churn_score({"customer_ids": ids, "top_reasons": 0})["results"]
            ltv = client.ltv({"customer_ids": ids})["results"]
            profile = client.customer({"customer_id": ids[0]})
    finally:
        server.stop()
    got = [r["churn_probability"] for r in churn]
    np.testing.assert_allclose(got, expected.loc[ids, "churn_probability"], rtol=1e-9)
    got = [r["predicted_value"] for r in ltv]
    np.testing.assert_allclose(got, expected.loc[ids, "predicted_value"], rtol=1e-9)
    assert profile["segment"] == expected.loc[ids[0], "segment"]
