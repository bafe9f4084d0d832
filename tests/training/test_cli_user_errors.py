"""Every user error of the CLI is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kizuna.training.cli import main

TRANSACTIONS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c"],
        "order_id": ["1", "2", "3", "4"],
        "item_id": ["x", "y", "x", "z"],
        "timestamp": [
            "2021-01-05 10:00",
            "2021-03-01 12:00",
            "2021-02-01 09:00",
            "2021-06-30 18:00",
        ],
        "quantity": [1, 2, 1, 3],
        "unit_price": [5.0, 2.5, 5.0, 1.0],
    }
)
CDNOW_LINES = "00001 19970101 1 11.77\n00002 19970112 1 12.00\n00002 19970112 5 77.00\n"


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["kizuna", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()  # progress lines may come before the error
    assert lines[-1].startswith("error:") and sum(x.startswith("error:") for x in lines) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    TRANSACTIONS.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "as_of, words",
    [
        ("2030-01-01", ("after the data", "2021-01-05", "2021-06-30")),
        ("1990-01-01", ("first purchase",)),
    ],
)
def test_features_as_of_outside_the_data_names_its_range(
    monkeypatch, capsys, tmp_path, tx_csv, as_of, words
):
    code, _, err = run_cli(
        monkeypatch, capsys, "features", str(tx_csv), "--as-of", as_of, "--out", str(tmp_path / "f")
    )
    assert_one_line_error(code, err, *words)


@pytest.mark.parametrize(
    "as_of, words",
    [
        ("2030-01-01", ("after the data", "2021-01-05", "2021-06-30")),
        ("1990-01-01", ("first purchase",)),
    ],
)
def test_validate_as_of_outside_the_data_names_its_range(monkeypatch, capsys, tx_csv, as_of, words):
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(tx_csv), "--as-of", as_of)
    assert_one_line_error(code, err, *words)


def test_features_report_their_as_of_and_the_label_windows_end(
    monkeypatch, capsys, tmp_path, tx_csv
):
    import json

    out = tmp_path / "f"
    args = ["features", str(tx_csv), "--as-of", "2021-03-01", "--horizon", "90", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["kizuna", *args, "--quiet"])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    report = json.loads((out / "reconciliation.json").read_text())
    assert report["as_of"].startswith("2021-03-01")
    assert report["label_window_end"].startswith("2021-05-30")
    assert report["set_aside"] == {"at_or_after_as_of": 1}  # the 2021-06-30 line, after the window


def test_features_label_window_past_the_data_is_refused(monkeypatch, capsys, tmp_path, tx_csv):
    args = ["features", str(tx_csv), "--as-of", "2021-06-01", "--horizon", "90"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--out", str(tmp_path / "f"))
    assert_one_line_error(code, err, "labels over 90 days", "2021-06-30")


def test_validate_reads_a_gzipped_cdnow_file(monkeypatch, capsys, tmp_path):
    path = tmp_path / "CDNOW_master.txt.gz"
    path.write_bytes(gzip.compress(CDNOW_LINES.encode()))
    monkeypatch.setattr(
        sys, "argv", ["kizuna", "validate", str(path), "--format", "cdnow", "--json"]
    )
    try:
        main()
    except SystemExit as exc:  # typer may exit 0 explicitly
        assert exc.code in (0, None), capsys.readouterr().err
    assert '"input_rows": 3' in capsys.readouterr().out


def test_validate_a_binary_file_as_cdnow_is_one_line(monkeypatch, capsys, tmp_path):
    path = tmp_path / "data.csv.gz"
    TRANSACTIONS.to_csv(path, index=False)  # gzipped canonical CSV, read as CDNOW text
    path2 = tmp_path / "noise.txt"
    path2.write_bytes(bytes(range(256)) * 4)
    for p in (path2,):
        code, _, err = run_cli(monkeypatch, capsys, "validate", str(p), "--format", "cdnow")
        assert_one_line_error(code, err, str(p))


def test_score_offers_with_a_missing_uplift_file_is_one_line(monkeypatch, capsys, tmp_path):
    scores = tmp_path / "scores.csv"
    pd.DataFrame(
        {"customer_id": ["a"], "churn_probability": [0.5], "predicted_ltv": [10.0]}
    ).to_csv(scores, index=False)
    offers = Path(__file__).resolve().parents[2] / "experiments" / "offers_demo.yaml"
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "score",
        "offers",
        str(scores),
        "--offers",
        str(offers),
        "--uplift",
        str(tmp_path / "missing.joblib"),
        "--out",
        str(tmp_path / "d.csv"),
    )
    assert_one_line_error(code, err, "missing.joblib")


def test_an_unexpected_user_error_type_anywhere_is_one_line(monkeypatch, capsys, tmp_path):
    """The entry point's guard: an OSError raised deep inside a command prints no traceback."""
    from kizuna.training import cli_data

    def boom(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked.csv"))

    monkeypatch.setattr(cli_data, "print_reconciliation", boom)
    tx = tmp_path / "tx.csv"
    TRANSACTIONS.to_csv(tx, index=False)
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(tx))
    assert_one_line_error(code, err, "Permission denied", "locked.csv")


def test_a_model_setting_lightgbm_refuses_is_one_line():
    import lightgbm
    import numpy as np

    from kizuna.training.cli import one_line, user_error_types

    X, y = np.random.default_rng(0).random((40, 3)), np.arange(40) % 2
    with pytest.raises(user_error_types()) as caught:
        lightgbm.LGBMClassifier(num_leaves=-1, verbose=-1).fit(X, y)
    assert one_line(caught.value) == (
        "LightGBM refused a model setting (params): Check failed: (num_leaves) > (1)"
    )


def test_an_error_shows_values_in_square_brackets_as_they_are(monkeypatch, capsys, tmp_path):
    """Console markup must not eat a user's ``[red]soon``: the line shows the data."""
    path = tmp_path / "[shop] orders.csv"
    TRANSACTIONS.assign(timestamp=["[red]soon", "[bold]later", "x", "2021-01-01"]).to_csv(
        path, index=False
    )
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(path))
    assert_one_line_error(code, err, "'[red]soon'", "'[bold]later'", "[shop] orders.csv")


def test_a_corrupt_mlflow_store_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"\x00garbage" * 512)
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, _, err = run_cli(monkeypatch, capsys, "events", "count")
    assert_one_line_error(code, err, "mlflow.db cannot be used: file is not a database")


@pytest.mark.parametrize("given", ["2021-03-01T09:00:00+09:00", "2021-03-01T00:00:00Z"])
def test_an_as_of_with_a_time_zone_is_read_as_utc(monkeypatch, capsys, tmp_path, tx_csv, given):
    # Airflow's {{ ts }} carries an offset: the same instant in UTC, not a traceback.
    import json

    out = tmp_path / "f"
    args = ["features", str(tx_csv), "--as-of", given, "--out", str(out), "--quiet"]
    monkeypatch.setattr(sys, "argv", ["kizuna", *args])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    report = json.loads((out / "reconciliation.json").read_text())
    assert report["as_of"] == "2021-03-01T00:00:00"
    capsys.readouterr()
    code, out_text, err = run_cli(monkeypatch, capsys, "validate", str(tx_csv), "--as-of", given,
                                  "--json")  # fmt: skip
    assert code in (0, None), err
    assert json.loads(out_text)["report"]["set_aside"] == {"at_or_after_as_of": 2}


def test_a_damaged_parquet_file_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "cut.parquet"
    TRANSACTIONS.to_parquet(bad)
    bad.write_bytes(bad.read_bytes()[:-20])  # a write cut short: no footer
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(bad))
    assert_one_line_error(code, err, "cut.parquet", "not a readable Parquet file")


@pytest.mark.parametrize(
    "text, words",
    [
        ("split:\n  as_of: 2021-13-01\n", ("'2021-13-01' is not a date", "line 3")),
        ("name: a\nsplit: {as_of: 2021-03-01}\nsplit: {horizon_days: 30}\n",
         ("'split' is given twice", "line 4")),
    ],
)  # fmt: skip
def test_an_impossible_date_or_a_repeated_key_in_the_experiment_is_refused(
    monkeypatch, capsys, tmp_path, tx_csv, text, words
):
    config = tmp_path / "exp.yaml"
    config.write_text(f"data: {{transactions: {tx_csv}}}\n{text}")
    code, _, err = run_cli(monkeypatch, capsys, "validate", "--config", str(config))
    assert_one_line_error(code, err, "exp.yaml", *words)


def test_a_misspelt_primary_metric_is_refused_when_the_file_loads(
    monkeypatch, capsys, tmp_path, tx_csv
):
    # It was refused only mid-training, after the recommender had trained.
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"data: {{transactions: {tx_csv}}}\nsplit: {{as_of: 2021-03-01}}\n"
        "churn: {primary_metric: roc_aucc}\n"
    )
    code, _, err = run_cli(monkeypatch, capsys, "validate", "--config", str(config))
    assert_one_line_error(code, err, "(churn)", "primary_metric", "roc_auc")


def test_the_primary_metric_choices_are_the_reports_keys():
    import typing

    from kizuna.training.metrics_regression import regression_report
    from kizuna.training.metrics_tabular import classification_report
    from kizuna.training.model_config import ChurnMetric, LTVMetric

    y, p = np.array([0, 1, 0, 1, 1]), np.array([0.2, 0.7, 0.4, 0.6, 0.9])
    assert set(typing.get_args(ChurnMetric)) == set(classification_report(y, p))
    assert set(typing.get_args(LTVMetric)) == set(regression_report(y * 3.0, p * 3))


def test_a_misspelt_kizuna_variable_is_named_with_the_nearest_setting(monkeypatch, capsys, tx_csv):
    # KIZUNA_DATADIR was ignored in silence: the stores then resolved against ./data.
    monkeypatch.setenv("KIZUNA_DATADIR", "/srv/kizuna")
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(tx_csv), "--json")
    assert code in (0, None), err
    assert (
        "warning: KIZUNA_DATADIR is not a kizuna setting and is ignored (did you mean "
        "KIZUNA_DATA_DIR?)" in " ".join(err.split())
    )
    from kizuna.serving.config import unknown_settings

    assert unknown_settings({"KIZUNA_DATA_DIR": "x", "KIZUNA_API_KEY": "k", "OTHER": "1"}) == []


def test_a_password_in_a_store_url_never_shows():
    from kizuna.serving.redact import hide_passwords

    assert (
        hide_passwords("cannot write to postgresql://crm:Hunter2@db:5432/x; sqlite:///a.db")
        == "cannot write to postgresql://crm:***@db:5432/x; sqlite:///a.db"
    )
    assert hide_passwords("mysql+pymysql://u:p%40ss@h/db") == "mysql+pymysql://u:***@h/db"
    assert hide_passwords("no url, a:b@c and user@host") == "no url, a:b@c and user@host"


def test_an_error_naming_a_store_url_hides_its_password(capsys):
    from kizuna.features.errors import KizunaInputError
    from kizuna.training.cli import _user_error

    with pytest.raises(SystemExit):
        _user_error(KizunaInputError("cannot write to postgresql://crm:Hunter2Secret@db/x"))
    err = capsys.readouterr().err
    assert "Hunter2Secret" not in err and "postgresql://crm:***@db/x" in err


@pytest.fixture
def no_postgres_driver(monkeypatch):
    """The psycopg drivers not installed: an import of either fails as it would then."""
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)  # `import psycopg` raises ImportError


def test_a_postgres_tracking_store_without_its_driver_is_one_line(
    monkeypatch, capsys, tmp_path, no_postgres_driver
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://kizuna:Hunter2Secret@127.0.0.1:1/db")
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    # Port 0 always passes serve's port check (the OS picks one) and no server starts: a port
    # from free_port() could be taken by then, and the error would be "cannot listen on".
    code, _, err = run_cli(monkeypatch, capsys, "serve", "--port", "0")
    assert_one_line_error(
        code,
        err,
        "postgresql://kizuna:***@127.0.0.1:1/db needs the PostgreSQL driver psycopg",
        "pip install 'kizuna[postgres]'",
    )
    assert "Hunter2Secret" not in err


def test_a_postgres_crm_target_without_its_driver_names_the_extra(no_postgres_driver):
    from kizuna.features.errors import KizunaInputError
    from kizuna.training.export_writers import write_chunks

    chunk = pd.DataFrame({"customer_id": ["a"]})
    url = "postgresql://crm:Hunter2Secret@127.0.0.1:1/crm"
    with pytest.raises(KizunaInputError) as info:
        write_chunks(iter([chunk]), url)
    assert str(info.value) == (
        "postgresql://crm:***@127.0.0.1:1/crm needs the PostgreSQL driver psycopg, which is "
        "not installed: pip install 'kizuna[postgres]'"
    )


def test_only_a_missing_postgres_driver_is_turned_into_the_hint():
    from kizuna.serving.sql_driver import missing_driver

    assert (
        missing_driver(ModuleNotFoundError("No module named 'lightgbm'", name="lightgbm")) is None
    )
    assert missing_driver(ValueError("psycopg")) is None
    wrapped = RuntimeError("engine failed")
    wrapped.__cause__ = ModuleNotFoundError("No module named 'psycopg2'", name="psycopg2")
    message = str(missing_driver(wrapped))
    assert message.startswith("a postgresql:// store URL needs the PostgreSQL driver psycopg2")
    assert "postgresql+psycopg://" in message


def test_a_service_on_a_postgres_registry_without_its_driver_says_what_to_install(
    monkeypatch, tmp_path, no_postgres_driver
):
    # What /readyz and /status show as the reason (the worker logs no traceback for it).
    from kizuna.serving.event_store import EventStore
    from kizuna.serving.live import Live

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://kizuna@127.0.0.1:1/db")
    live = Live("registry", store=EventStore(tmp_path / "events.sqlite"), experiment="shop")
    outcome = live.load()
    assert not outcome.reloaded
    assert live.last_error == (
        "a postgresql:// store URL needs the PostgreSQL driver psycopg, which is not installed: "
        "pip install 'kizuna[postgres]'"
    )
