"""``kizuna report`` on a small synthetic shop: one self-contained page with every section.

The browser test (marker ``browser``) opens the page in headless Chromium, checks
that it renders without console errors and that every plot has a size, and keeps
a screenshot under ``test-artifacts/``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SECTIONS = ("kpis", "cohorts", "segments", "campaigns", "attribution", "fatigue")
PLOTS = ("kpis", "cohort-retention", "cohort-revenue", "segments")


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.config import DataConfig, ExperimentConfig, SplitConfig
    from kizuna.training.report import ReportOptions, build_report
    from kizuna.training.shop_io import write_shop

    folder = tmp_path_factory.mktemp("report")
    shop = generate_shop(
        ShopConfig(n_customers=300, n_items=40, seed=3, start="2023-01-01", end="2024-07-01")
    )
    write_shop(shop, folder / "shop")
    config = ExperimentConfig(
        name="report-test",
        data=DataConfig(
            transactions=folder / "shop" / "transactions.parquet",
            items=folder / "shop" / "items.parquet",
        ),
        split=SplitConfig(as_of="2024-04-01", horizon_days=60),
    )
    return build_report(config, ReportOptions(models=None), quiet=True)


def small_shop_experiment(tmp_path: Path, name: str, *, n_customers: int) -> tuple[Path, Any]:
    """A year of a synthetic shop (2023-06-01 to 2024-06-01) and an experiment file reading it."""
    import yaml

    from kizuna.simulators.synthetic import ShopConfig, generate_shop
    from kizuna.training.shop_io import write_shop

    shop = generate_shop(
        ShopConfig(
            n_customers=n_customers, n_items=20, seed=5, start="2023-06-01", end="2024-06-01"
        )
    )
    write_shop(shop, tmp_path / "shop")
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "data": {"transactions": "shop/transactions.parquet", "format": "canonical"},
                "split": {"as_of": "2024-03-01", "horizon_days": 60},
            }
        )
    )
    return experiment, shop


def test_report_command_writes_the_file_and_refuses_bad_input(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from kizuna.training.cli import app

    experiment, _ = small_shop_experiment(tmp_path, "cli-report", n_customers=150)
    out = tmp_path / "out" / "report.html"
    runner = CliRunner()
    done = runner.invoke(
        app, ["report", str(experiment), "--out", str(out), "--models", "none", "--json"]
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["out"] == str(out) and out.read_text().startswith("<!DOCTYPE html>")
    assert summary["plots"] == list(PLOTS)
    # A bad --since (ISO text only, like --as-of): tests/training/test_cli_dates.py.
    empty = runner.invoke(
        app,
        [
            "attribution",
            "--since",
            "2024-01-01",
            "--json",
            "--contact-log",
            str(tmp_path / "c.sqlite"),
            "--event-store",
            str(tmp_path / "e.sqlite"),
        ],
    )
    assert empty.exit_code == 0 and json.loads(empty.stdout)["rows"] == []


def test_report_has_every_section_and_plot(report_page) -> None:
    page, summary = report_page
    assert summary["sections"] == list(SECTIONS)
    assert summary["plots"] == list(PLOTS)
    for key in SECTIONS:
        assert f'id="section-{key}"' in page
    for plot in PLOTS:
        assert re.search(rf'<figure class="plot" data-plot="{plot}"><svg', page)
    assert f'data-plots="{len(PLOTS)}"' in page


def test_report_is_self_contained(report_page) -> None:
    page, _ = report_page
    # No scripts, stylesheets, images or fonts fetched from anywhere.
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "url(http" not in page
    # and the KPI table shows the months
    assert html.escape("The last 13 months") in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHECK = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)), true);
const consoleError = console.error;
console.error = (...args) => { window.__errors.push(args.join(' ')); consoleError(...args); };
window.addEventListener('load', () => {
  const plots = [...document.querySelectorAll('figure.plot')];
  const drawn = plots.filter(f => { const g = f.querySelector('svg, img');
    if (!g) return false; const r = g.getBoundingClientRect(); return r.width > 50 && r.height > 50; });
  const out = document.createElement('pre'); out.id = 'kizuna-check';
  out.textContent = JSON.stringify({plots: plots.length, drawn: drawn.length,
    ids: drawn.map(f => f.dataset.plot), errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report_page, tmp_path: Path) -> None:
    import json

    chromium = _chromium()
    if chromium is None:
        pytest.skip(
            "Chromium not found (install Debian's `chromium` package: apt-get install -y chromium)"
        )
    page, summary = report_page
    ARTIFACTS.mkdir(exist_ok=True)
    plain = ARTIFACTS / "report.html"
    plain.write_text(page, encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    flags = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=5000", "--window-size=1280,2400",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(
        [*flags, "--dump-dom", checked.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    match = re.search(r'<pre id="kizuna-check">(.*?)</pre>', dom.stdout, re.S)
    assert match, "the check script did not run: " + dom.stderr[-2000:]
    result = json.loads(html.unescape(match.group(1)))
    assert result["errors"] == []
    assert result["plots"] == len(summary["plots"])
    assert result["drawn"] == result["plots"], result["ids"]
    # Chromium logs every console message of the page as ":CONSOLE(line)": there must be none.
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE(" in line] == []
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = subprocess.run(
        [*flags, f"--screenshot={shot}", plain.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000


def test_the_customers_worth_keeping_are_keyed_by_customer() -> None:
    import pandas as pd

    from kizuna.training.report.html import render
    from kizuna.training.report.sections import value_section

    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "segment": ["champions", "at_risk", "at_risk"],
            "predicted_value": [100.0, 50.0, 10.0],
            "churn_probability": [0.1, 0.8, 0.5],
        }
    )
    page = render([value_section(scores, {"b": ["Long time since last purchase"]}, ltv_basis="if_retained")],
                  title="t", subtitle="s")  # fmt: skip
    head = "<caption>Most worth keeping</caption><thead><tr><th>customer_id</th><th>segment</th>"
    assert head in page
    # b (50 x 0.8 = 40) before a (10) and c (5), each row led by its id, its reason at the end
    rows = re.findall(r"<tr><td>(\w)</td>", page.split(head)[1])
    assert rows == ["b", "a", "c"] and "Long time since last purchase" in page


def test_the_health_table_reads_each_baselines_mode_once() -> None:
    from kizuna.training.report.sources import HEALTH_METRICS, health_table

    metrics = {
        "ndcg_at_10": 0.5,
        "new_ndcg_at_10": 0.3,
        "baseline_als_ndcg_at_10": 0.4,
        "baseline_als_new_ndcg_at_10": 0.2,  # als in the `new` mode: not a baseline "als_new"
        "baseline_item_knn_bm25_new_ndcg_at_10": 0.25,
    }
    table = health_table(metrics, HEALTH_METRICS["recommender"])
    assert list(table.index) == ["kizuna", "baseline: als", "baseline: item_knn_bm25"]
    assert table.loc["baseline: als", "ndcg_at_10"] == 0.4
    assert table.loc["baseline: als", "new_ndcg_at_10"] == 0.2
    assert table.loc["baseline: item_knn_bm25", "new_ndcg_at_10"] == 0.25


def test_report_cells_show_counts_without_decimals() -> None:
    from kizuna.training.report.html import _cell

    # KPI tables hold counts beside rates and money in one column of floats
    assert [_cell(3733.0), _cell(0.7308), _cell(1234.5), _cell(12)] == [
        "3,733", "0.7308", "1,234.50", "12"
    ]  # fmt: skip


def test_report_refuses_since_outside_the_data(tmp_path: Path, monkeypatch, capsys) -> None:
    """A --since after the last purchase compared the data with itself: an empty page, no word."""
    from tests.training.test_cli_user_errors import assert_one_line_error, run_cli

    experiment, shop = small_shop_experiment(tmp_path, "since-report", n_customers=60)
    last = shop.transactions["timestamp"].max()
    out = tmp_path / "report.html"
    args = ["report", str(experiment), "--models", "none", "--out", str(out), "-q"]
    for since in ("2025-01-01", "2023-01-01"):  # after the last purchase; before the first
        code, _, err = run_cli(monkeypatch, capsys, *args, "--since", since)
        assert_one_line_error(code, err, f"--since {since}", f"{last:%Y-%m-%d %H:%M}")
        assert not out.exists()
    code, _, err = run_cli(monkeypatch, capsys, *args, "--since", "2024-02-01")
    assert code in (0, None) and out.exists(), err
