"""The offer commands end to end on small files, and the durable contact log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from kizuna.features.errors import KizunaInputError
from kizuna.models.contact_log import empty_log
from kizuna.serving.contact_store import append_contacts, read_contact_log
from kizuna.simulators.campaign import CampaignConfig, simulate_campaign
from kizuna.training import cli_campaign, cli_offers

OFFERS_YAML = """
margin: 0.5
contact_policy: {max_contacts: 2, period_days: 30}
offers:
  - offer_id: wb
    type: win_back
    save_rate: 0.3
    cost: {fixed: 0.5, discount_share: 0.1}
    eligibility: {churn_probability: {min: 0.3}}
    caps: {cooldown_days: 30}
  - offer_id: xs
    type: cross_sell
    cost: {fixed: 0.1}
"""

app = typer.Typer()
app.command("score-offers")(cli_offers.score_offers)
app.command("evaluate-campaign")(cli_campaign.evaluate_campaign)
runner = CliRunner()


def customer_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in range(n)],
        "segment": rng.choice(["At risk", "Loyal"], n),
        "recency_days": rng.uniform(1, 400, n),
        "frequency": rng.integers(1, 8, n).astype(float),
        "monetary_mean": rng.gamma(6, 8, n),
        "churn_probability": rng.uniform(0.05, 0.95, n),
        "predicted_value": rng.gamma(2, 60, n),
    })  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    scores = tmp_path / "scores.parquet"
    customer_frame().set_index("customer_id").to_parquet(scores)  # id as the index
    offers = tmp_path / "offers.yaml"
    offers.write_text(OFFERS_YAML)
    return {"scores": scores, "offers": offers, "dir": tmp_path}


def run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_score_offers_writes_decisions_and_logs_contacts(files) -> None:
    out, log = files["dir"] / "d.parquet", files["dir"] / "log.csv"
    common = [
        str(files["scores"]),
        "--offers",
        str(files["offers"]),
        "--contact-log",
        str(log),
        "--log-contacts",
        "--campaign-id",
        "spring",
        "--control-share",
        "0.2",
    ]
    first = run("score-offers", *common, "--now", "2025-01-01", "--out", str(out), "-k", "2")
    decisions = pd.read_parquet(out)
    rank1 = decisions[decisions["rank"] == 1]
    assert first["customers"] == 400 == len(rank1)
    assert 40 < first["control"] < 120  # 20 % by hash, sd 8
    sent = rank1[(rank1["offer_id"] != "no_offer") & (rank1["group"] == "treated")]
    assert first["contacts_logged"] == len(sent) > 0
    assert list(decisions["reasons"].iloc[0])  # lists survive Parquet
    logged = read_contact_log(log)
    assert len(logged) == len(sent) and (logged["campaign_id"] == "spring").all()
    # Ten days later the win-back is still in its 30-day cooldown for those who got it.
    run("score-offers", *common, "--now", "2025-01-11", "--out", str(out))
    again = pd.read_parquet(out).set_index("customer_id")["offer_id"]
    got_wb = sent.loc[sent["offer_id"] == "wb", "customer_id"]
    assert len(got_wb) > 0 and (again.loc[got_wb] != "wb").all()


def test_a_retry_of_the_same_decision_gives_the_same_decisions_and_logs_nothing_twice(
    files,
) -> None:
    # A scheduler reruns the job (the CRM upload failed): same campaign, same --now. Its
    # first run's contacts are not history of this decision: before, caps and cooldowns
    # counted them and the retry sent almost nothing.
    out, log = files["dir"] / "d.parquet", files["dir"] / "log.sqlite"
    common = [str(files["scores"]), "--offers", str(files["offers"]), "--contact-log", str(log),
              "--log-contacts", "--campaign-id", "c1", "--now", "2025-01-01", "--out", str(out)]  # fmt: skip
    first = run("score-offers", *common)
    decided = pd.read_parquet(out)
    retry = run("score-offers", *common)
    pd.testing.assert_frame_equal(pd.read_parquet(out), decided)
    assert first["contacts_logged"] > 0 and retry["contacts_logged"] == 0
    assert retry["contacts_logged_by_an_earlier_run"] == first["contacts_logged"]
    assert len(read_contact_log(log)) == first["contacts_logged"]
    # A later decision of the same campaign counts them: they were sent.
    later = run("score-offers", *common[:-4], "--now", "2025-01-02", "--out", str(out))
    assert later["contacts_logged_by_an_earlier_run"] == 0
    assert later["no_offer"] > first["no_offer"]


def test_each_decision_keeps_its_own_default_file(files, monkeypatch) -> None:
    # One default name for every night was overwritten before campaign-outcomes could read it.
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(files["dir"] / "data"))
    common = [str(files["scores"]), "--offers", str(files["offers"]), "--campaign-id", "spring/1"]
    first = run("score-offers", *common, "--now", "2025-01-01T08:00:00")
    second = run("score-offers", *common, "--now", "2025-01-02T08:00:00")
    folder = files["dir"] / "data" / "offers"
    assert first["out"] == str(folder / "decisions-spring_1-20250101T080000.parquet")
    assert second["out"] == str(folder / "decisions-spring_1-20250102T080000.parquet")
    assert sorted(p.name for p in folder.iterdir()) == [
        "decisions-spring_1-20250101T080000.parquet",
        "decisions-spring_1-20250102T080000.parquet",
    ]


def test_score_offers_reads_the_catalogue_named_by_an_experiment(files) -> None:
    experiment = files["dir"] / "exp.yaml"
    experiment.write_text("name: x\noffers: offers.yaml\n")
    out = files["dir"] / "d.parquet"
    summary = run(
        "score-offers",
        str(files["scores"]),
        "--config",
        str(experiment),
        "--out",
        str(out),
        "--now",
        "2025-01-01",
    )
    assert summary["offers_file"].endswith("offers.yaml")


def test_score_offers_uses_the_services_contact_log_by_default(files, monkeypatch) -> None:
    # Without --contact-log, the batch reads and writes the log the service of the
    # --config experiment uses, so caps and cooldowns count the same contacts.
    monkeypatch.delenv("KIZUNA_CONTACT_LOG", raising=False)
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(files["dir"] / "data"))
    experiment = files["dir"] / "exp.yaml"
    experiment.write_text("name: x\noffers: offers.yaml\n")
    out = files["dir"] / "d.parquet"
    common = [str(files["scores"]), "--config", str(experiment), "--out", str(out)]
    first = run("score-offers", *common, "--now", "2025-01-01", "--log-contacts")
    service_log = files["dir"] / "data" / "contacts" / "x.sqlite"
    assert first["contact_log"] == str(service_log) and first["contacts_logged"] > 0
    sent = pd.read_parquet(out)
    got_wb = sent.loc[sent["offer_id"] == "wb", "customer_id"]
    later = run("score-offers", *common, "--now", "2025-01-11")  # nothing logged this time
    assert later["contact_log"] == str(service_log)
    again = pd.read_parquet(out).set_index("customer_id")["offer_id"]
    assert len(got_wb) > 0 and (again.loc[got_wb] != "wb").all()  # still in its cooldown


def test_score_offers_errors(files) -> None:
    with pytest.raises(KizunaInputError, match="--offers"):
        runner.invoke(app, ["score-offers", str(files["scores"])], catch_exceptions=False)
    with pytest.raises(KizunaInputError, match="campaign-id"):
        runner.invoke(
            app,
            [
                "score-offers",
                str(files["scores"]),
                "--offers",
                str(files["offers"]),
                "--control-share",
                "0.1",
            ],
            catch_exceptions=False,
        )


def test_evaluate_campaign_and_learned_uplift_feed_score_offers(files) -> None:
    frame = customer_frame(3000, seed=1)
    sim = simulate_campaign(
        frame[["customer_id", "recency_days", "frequency", "monetary_mean"]],
        CampaignConfig(offer_id="wb"),
        seed=2,
    )
    outcomes = files["dir"] / "outcomes.csv"
    sim.outcomes.assign(treated=np.where(sim.outcomes["treated"], "treated", "control")).to_csv(
        outcomes, index=False
    )
    features = files["dir"] / "features.parquet"
    sim.features.to_parquet(features)
    models = files["dir"] / "uplift.joblib"
    report = run(
        "evaluate-campaign",
        str(outcomes),
        "--offers",
        str(files["offers"]),
        "--features",
        str(features),
        "--learner",
        "t",
        "--models-out",
        str(models),
    )
    rows = {r["offer_id"]: r for r in report["offers"]}
    assert set(rows) == {"wb", "all"}
    wb = rows["wb"]
    assert wb["n_treated"] + wb["n_control"] == 3000
    true_uplift = sim.truth["true_uplift"].mean()
    assert wb["retention_uplift_low"] < true_uplift < wb["retention_uplift_high"]
    assert report["learned_uplift"][0]["offer_id"] == "wb" and models.exists()
    # The saved models replace the assumed save rate in score-offers.
    scores = files["dir"] / "scores2.parquet"
    frame.to_parquet(scores)
    out = files["dir"] / "d2.parquet"
    run(
        "score-offers",
        str(scores),
        "--offers",
        str(files["offers"]),
        "--uplift",
        str(models),
        "--out",
        str(out),
        "--now",
        "2025-01-01",
    )
    decided = pd.read_parquet(out)
    assert (decided.loc[decided["offer_id"] == "wb", "uplift_source"] == "learned").all()


@pytest.mark.parametrize("name", ["log.csv", "log.sqlite"])
def test_contact_log_store_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert len(read_contact_log(path)) == 0  # no file yet: an empty log
    rows = pd.DataFrame({
        "customer_id": ["007", "b"], "offer_id": ["wb", "xs"],
        "contacted_at": pd.to_datetime(["2025-01-01 10:00", "2025-01-05 00:00"]),
        "channel": ["email", None], "campaign_id": ["c1", "c1"],
    })  # fmt: skip
    assert append_contacts(path, rows) == 2
    assert append_contacts(path, rows.iloc[:1]) == 1
    assert append_contacts(path, empty_log()) == 0
    back = read_contact_log(path)
    assert len(back) == 3
    assert back["customer_id"].tolist() == ["007", "b", "007"]  # ids keep leading zeros
    assert back["contacted_at"].iloc[0] == pd.Timestamp("2025-01-01 10:00")
    assert len(read_contact_log(path, since="2025-01-02")) == 1
    with pytest.raises(KizunaInputError, match=".csv"):
        append_contacts(tmp_path / "log.txt", rows)


def test_score_offers_refuses_what_the_service_refuses_and_warns_of_unreachable_offers(
    files,
) -> None:
    offers = files["dir"] / "typo.yaml"
    offers.write_text(
        "offers:\n  - offer_id: vip\n    type: cross_sell\n"
        "    eligibility: {channels: [email], segments: [Champion, Champions]}\n"
    )
    scores = files["dir"] / "with_segments.parquet"
    customer_frame().assign(segment="Champions").to_parquet(scores)
    base = ["score-offers", str(scores), "--offers", str(offers), "--campaign-id", "c"]
    for extra, words in (
        (["--channel", "pigeon"], "known: email"),
        (["--control-share", "-0.2"], "must be in \\[0, 1\\)"),
        (["--control-share", "1.0"], "must be in \\[0, 1\\)"),
    ):
        with pytest.raises(KizunaInputError, match=words):
            runner.invoke(app, [*base, *extra], catch_exceptions=False)
    out = files["dir"] / "d.parquet"
    result = runner.invoke(app, [*base, "--channel", "email", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "offer 'vip' names segments no customer is in: ['Champion']" in " ".join(
        result.output.split()
    )


def test_decisions_written_as_csv_are_read_by_campaign_outcomes_as_the_parquet_ones(
    files, monkeypatch
) -> None:
    from kizuna.training.cli import app as kizuna

    monkeypatch.setenv("KIZUNA_EVENT_STORE", str(files["dir"] / "no-events.sqlite"))
    ids = customer_frame()["customer_id"]
    orders = pd.DataFrame({
        "customer_id": [*ids[:40], *ids[:20], "z"], "order_id": [f"o{i}" for i in range(61)],
        "item_id": "i", "quantity": 1, "unit_price": 5.0,
        "timestamp": ["2024-12-01"] * 40 + ["2025-01-05"] * 20 + ["2025-03-01"],
    })  # fmt: skip
    orders.to_csv(files["dir"] / "orders.csv", index=False)
    experiment = files["dir"] / "shop.yaml"
    experiment.write_text(
        "name: shop\nsplit: {as_of: 2024-12-15}\ndata: {transactions: orders.csv}\n"
    )
    measured = {}
    for name in ("d.parquet", "d.csv", "d.csv.gz"):
        out = files["dir"] / name
        run(
            "score-offers", str(files["scores"]), "--offers", str(files["offers"]), "--out",
            str(out), "--now", "2025-01-01", "-k", "2", "--campaign-id", "c", "--control-share",
            "0.3",
        )  # fmt: skip
        done = runner.invoke(
            kizuna,
            ["campaign-outcomes", str(out), "-c", str(experiment), "--out",
             str(files["dir"] / f"{name}.outcomes.csv"), "--json"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        measured[name] = pd.read_csv(files["dir"] / f"{name}.outcomes.csv")
    text = pd.read_csv(files["dir"] / "d.csv")
    assert text["reasons"].str.contains("; ").any()  # lists as text, not Python reprs
    assert not text["reasons"].str.startswith("[").any()
    assert len(measured["d.parquet"]) > 100 and measured["d.parquet"]["outcome"].sum() > 0
    pd.testing.assert_frame_equal(measured["d.csv"], measured["d.parquet"])
    pd.testing.assert_frame_equal(measured["d.csv.gz"], measured["d.parquet"])


def test_decisions_refuse_a_name_that_says_neither_parquet_nor_csv(files) -> None:
    out = files["dir"] / "d.json"
    with pytest.raises(KizunaInputError, match=r"--out .*d\.json: decisions are written as"):
        runner.invoke(
            app,
            [
                "score-offers",
                str(files["scores"]),
                "--offers",
                str(files["offers"]),
                "-o",
                str(out),
            ],
            catch_exceptions=False,
        )
    assert not out.exists()


@pytest.mark.parametrize("name", ["d.parquet", "d.csv"])
def test_decisions_that_fill_the_disk_leave_the_earlier_file(files, monkeypatch, name) -> None:
    from tests.training.test_atomic_write import disk_full_on

    out = files["dir"] / name
    args = ["score-offers", str(files["scores"]), "--offers", str(files["offers"]), "-o", str(out)]
    run(*args, "--now", "2025-01-01")
    before = sorted(files["dir"].iterdir()), out.read_bytes()
    disk_full_on(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        runner.invoke(app, [*args, "--now", "2025-02-01"], catch_exceptions=False)
    assert (sorted(files["dir"].iterdir()), out.read_bytes()) == before
