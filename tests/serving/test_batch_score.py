"""CRM batch export: chunked scoring written to SQLite, CSV and Parquet, read back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.serving import recommendations, scoring
from kizuna.serving import schemas as api
from kizuna.training.batch_score import score_chunks
from kizuna.training.export_schema import COLUMNS, REC_SEP
from kizuna.training.export_writers import write_chunks


def test_chunks_cover_every_customer_once(served):
    chunks = list(score_chunks(served, k=5, chunk_size=150))
    assert [len(c) for c in chunks] == [150, 150, served.state.n_customers - 300]
    frame = pd.concat(chunks)
    assert frame[s.CUSTOMER_ID].tolist() == served.state.features.index.astype(str).tolist()
    assert list(frame.columns) == list(COLUMNS)


def test_scores_agree_with_the_online_endpoints(served):
    frame = pd.concat(score_chunks(served, k=5, chunk_size=64)).set_index(s.CUSTOMER_ID)
    ids = [str(c) for c in served.state.features.index[[0, 10, 99]]]
    churn = scoring.churn_scores(
        served, api.ChurnRequest(customer_ids=ids, top_reasons=0), max_batch=10, bands=(0.3, 0.6)
    )
    ltv = scoring.ltv_scores(served, api.LTVRequest(customer_ids=ids), max_batch=10)
    for cid, c, v in zip(ids, churn.results, ltv.results, strict=True):
        assert frame.loc[cid, "churn_probability"] == pytest.approx(c.churn_probability)
        assert frame.loc[cid, "risk_band"] == c.risk_band
        assert frame.loc[cid, "predicted_value"] == pytest.approx(v.predicted_value)
        online = recommendations.recommend(served, api.RecommendRequest(customer_id=cid, k=5))
        assert frame.loc[cid, "recommendations"].split(REC_SEP) == [i.item_id for i in online.items]


def test_sqlite_export_reads_back(served, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    rows = write_chunks(score_chunks(served, k=3, chunk_size=100), url, table="scores")
    assert rows == served.state.n_customers
    engine = sa.create_engine(url)
    back = pd.read_sql_table("scores", engine)
    engine.dispose()
    assert len(back) == rows and back[s.CUSTOMER_ID].is_unique
    assert back["churn_probability"].between(0, 1).all()
    assert set(back["risk_band"]) <= {"low", "medium", "high"}
    assert back["recommendations"].str.split(REC_SEP).map(len).eq(3).all()
    # Replaced, not appended, on a second run.
    write_chunks(score_chunks(served, k=3, chunk_size=100), url, table="scores")
    engine = sa.create_engine(url)
    assert pd.read_sql_query("SELECT COUNT(*) AS n FROM scores", engine)["n"][0] == rows
    engine.dispose()


def test_a_sqlite_file_in_a_new_folder_is_created_and_an_unwritable_one_is_one_line(
    served, tmp_path
):
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'crm.sqlite'}"
    rows = write_chunks(score_chunks(served, k=3, chunk_size=500), url, table="scores")
    assert rows == served.state.n_customers
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises((KizunaInputError, OSError)):
        write_chunks(score_chunks(served, k=3, chunk_size=500), f"sqlite:///{blocker}/x.sqlite")


@pytest.mark.parametrize("name", ["scores.csv", "scores.csv.gz", "scores.parquet"])
def test_file_exports_read_back(served, tmp_path, name):
    path = tmp_path / name
    rows = write_chunks(score_chunks(served, k=2, chunk_size=128), str(path))
    back = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    assert len(back) == rows == served.state.n_customers
    expected = pd.concat(score_chunks(served, k=2, chunk_size=1000))
    np.testing.assert_allclose(back["predicted_value"], expected["predicted_value"])


def test_unknown_target_type_is_refused(served, tmp_path):
    with pytest.raises(KizunaInputError, match="cannot tell"):
        write_chunks(score_chunks(served), str(tmp_path / "scores.xlsx"))


def test_reasons_are_identical_in_churn_score_the_crm_export_and_the_model(served, monkeypatch):
    """One reasons method: /churn_score, the CRM export and predict_with_reasons agree."""
    from kizuna.training.export_schema import REASON_SEP

    st = served.state
    bundle = served.models.churn
    phrases = {".*": ["crm high {name} ({value})", "crm low {name} ({value})"]}
    monkeypatch.setattr(bundle.model, "reason_phrases", phrases)
    ids = [str(c) for c in st.frames["churn"].index[:8]]
    # top_n=9 is asked by no other test, so no reason cached with the default phrases.
    _, own = bundle.model.predict_with_reasons(
        st.frames["churn"].loc[ids, bundle.feature_columns], top_n=9
    )
    online = scoring.churn_scores(
        served, api.ChurnRequest(customer_ids=ids, top_reasons=9), max_batch=10, bands=(0.3, 0.6)
    )
    export = pd.concat(score_chunks(served, k=2, chunk_size=len(st.features), reasons=9))
    export = export.set_index(s.CUSTOMER_ID).loc[ids, "churn_reasons"]
    # The custom phrases are in use (a missing value keeps its own "is unknown" phrase).
    assert any(r["phrase"].startswith("crm ") for row in own for r in row)
    assert [[r.model_dump() for r in res.reasons] for res in online.results] == own
    assert list(export) == [REASON_SEP.join(r["phrase"] for r in row) for row in own]


def test_the_readme_documents_every_export_column() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("| column | meaning |", 1)[1].split("\n\n", 1)[0]
    cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in cells for name in re.findall(r"`([a-z_0-9]+)`", cell)}
    assert documented == set(COLUMNS)


def test_score_audience_applies_the_stored_events_as_the_service_does(model_set, tmp_path):
    # A customer who bought the item through /events last week is a recent buyer for
    # `kizuna score audience` too (the command read the snapshot alone before).
    import json

    from typer.testing import CliRunner

    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import load_served
    from kizuna.training.cli import app
    from tests.serving.model_set import purchase

    def audience(*extra: str) -> tuple[dict, pd.DataFrame]:
        out = tmp_path / f"audience{len(extra)}.csv"
        args = ["score", "audience", "--models", str(model_set.folder), "--item", item,
                "--n", "50", "--out", str(out), "--json", *extra]  # fmt: skip
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout), pd.read_csv(out, dtype={s.CUSTOMER_ID: str})

    st = load_served(str(model_set.folder)).state
    item = str(st.catalogue.item_ids[0])
    before, first = audience()
    buyer = str(first[s.CUSTOMER_ID].iloc[0])
    store = EventStore(tmp_path / "events.sqlite")
    store.append(purchase(buyer, item, st.as_of - pd.Timedelta(days=7)))
    after, second = audience("--event-store", str(tmp_path / "events.sqlite"))
    assert buyer not in set(second[s.CUSTOMER_ID])
    assert after["excluded_recent_buyers"] == before["excluded_recent_buyers"] + 1


def test_score_warns_for_each_model_kind_it_leaves_empty(monkeypatch):
    # A first training whose churn model stayed @challenger: the export's churn columns
    # are empty and the nightly job exits 0, so the command says why on stderr.
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from kizuna.training import cli_score, progress

    sink = io.StringIO()
    monkeypatch.setattr(progress, "err_console", Console(file=sink, width=400))
    models = SimpleNamespace(broken={"ltv": "ltv.pkl is corrupt"})
    served = SimpleNamespace(models=models, missing_kinds=["churn"])
    cli_score._warn_missing_kinds(served, "champion", "demo")
    lines = sink.getvalue().splitlines()
    assert lines == [
        "warning: the ltv columns are left empty: ltv.pkl is corrupt",
        "warning: the churn columns are left empty: no churn version is @champion (one that "
        "did not beat its baseline stays @challenger; `kizuna promote churn VERSION "
        "--experiment demo` serves it)",
    ]


def test_score_on_spark_without_pyspark_is_one_line(model_set, tmp_path, monkeypatch):
    # As validate, features and snapshot say it: how to get the extra, not a traceback.
    import sys

    import yaml
    from typer.testing import CliRunner

    from kizuna.training.cli import app

    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    config = tmp_path / "exp.yaml"
    data = {"transactions": str(model_set.shop_dir / "transactions.parquet")}
    config.write_text(yaml.safe_dump({"name": "x", "data": data, "split": {"as_of": "2024-01-01"}}))
    args = ["score", "--engine", "spark", "--models", str(model_set.folder), "-c", str(config),
            "--out", str(tmp_path / "out")]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert isinstance(done.exception, KizunaInputError), done.output
    assert "pip install 'kizuna[spark]'" in str(done.exception)


def test_a_candidate_pool_for_a_served_model_that_is_not_the_hybrid_ranks_exactly(
    served, monkeypatch
):
    # scoring.candidate_pool is set in the experiment file before training chooses what
    # to serve; a served two-stage model failed every nightly export with it.
    import io
    from dataclasses import replace

    from rich.console import Console

    from kizuna.models.recommenders import ItemKNNRecommender
    from kizuna.training import progress

    rec = served.models.recommender
    knn = ItemKNNRecommender().fit(rec.history)
    other = replace(served, models=replace(served.models, recommender=replace(rec, model=knn)))
    sink = io.StringIO()
    monkeypatch.setattr(progress, "err_console", Console(file=sink, width=400))
    pooled = pd.concat(score_chunks(other, k=5, chunk_size=100, candidate_pool=50))
    exact = pd.concat(score_chunks(other, k=5, chunk_size=100))
    pd.testing.assert_frame_equal(pooled, exact)
    assert "scoring.candidate_pool applies to the hybrid recommender" in sink.getvalue()
    assert "ItemKNNRecommender" in sink.getvalue()
