"""``kizuna train``: load → validate → features → train → evaluate → log → register."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from pathlib import Path
from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.features.errors import KizunaInputError
from kizuna.features.timestamps import utc_now
from kizuna.models.recommenders.fit_cache import shared_fits
from kizuna.serving.redact import hide_passwords
from kizuna.training import run_logging, run_metadata, tracking
from kizuna.training.audience_eval import evaluate_audiences
from kizuna.training.config import ExperimentConfig
from kizuna.training.data import load_tables, load_transactions_and_events
from kizuna.training.data_span import check_as_of_in_data
from kizuna.training.experiment_result import ExperimentResult
from kizuna.training.progress import step
from kizuna.training.run_writer import RunWriter
from kizuna.training.tabular_process import TabularProcess, training_limits
from kizuna.training.train_contractual import train_contractual_churn


def run_experiment(
    config: ExperimentConfig, *, quiet: bool = False, tabular: TabularProcess | None = None
) -> ExperimentResult:
    """Run one experiment end to end and return its results.

    Parameters
    ----------
    config
        A loaded experiment (see :func:`training.config.load_experiment`).
    quiet
        No progress output (for ``--json`` and tests).
    tabular
        A started :class:`~training.tabular_process.TabularProcess` for churn,
        LTV and uplift (``kizuna train`` starts it before its own imports, so
        the child's overlap them); None: one is started here if the experiment
        needs it. Stopped when the experiment ends, used or not.

    Returns
    -------
    ExperimentResult
    """
    needed = uses_tabular_stage(config)
    if tabular is not None and not needed:
        tabular.stop()
        tabular = None
    if tabular is None and needed:
        tabular = TabularProcess().start()
    try:
        return _run(config, quiet, tabular)
    finally:
        if tabular is not None:  # still running only when the training failed
            tabular.stop()


def uses_tabular_stage(config: ExperimentConfig) -> bool:
    """Whether the experiment trains churn, LTV or uplift from its transactions.

    Parameters
    ----------
    config
        The experiment config.

    Returns
    -------
    bool
    """
    return config.data.transactions is not None and bool(
        tabular_kinds(config) or config.uplift.enabled
    )


def tabular_kinds(config: ExperimentConfig) -> list[str]:
    """The kinds the tabular stage trains: LTV, and churn unless it is contractual.

    Parameters
    ----------
    config
        The experiment config.

    Returns
    -------
    list of str
    """
    kinds = [k for k in ("churn", "ltv") if getattr(config, k).enabled]
    return [k for k in kinds if not (k == "churn" and config.churn.mode == "contractual")]


def _run(config: ExperimentConfig, quiet: bool, tabular: TabularProcess | None) -> ExperimentResult:
    split = config.split
    as_of = None if split.as_of is None else pd.Timestamp(split.as_of)
    data = config.data
    contractual = config.churn.enabled and config.churn.mode == "contractual"
    with step(
        "reading the items and customers tables", quiet=quiet or not (data.items or data.customers)
    ):
        items, customers = load_tables(
            data, label_col=config.churn.label_col if contractual else None
        )
    report: dict[str, Any] = {}
    last_seq = 0
    if data.transactions is not None:
        validated, last_seq = load_transactions_and_events(
            data, as_of=None, quiet=quiet, experiment=config.name
        )
        tx, report = validated.kept, validated.report.to_dict()
        if tx.empty:
            raise KizunaInputError(f"no usable transactions in {data.transactions}")
        if as_of is not None:  # the holdout's labels need the whole horizon after it
            check_as_of_in_data(
                validated, as_of, horizon_days=split.horizon_days, setting="split.as_of"
            )
        fingerprint = tracking.dataset_fingerprint(
            tx, source=f"{data.format}:{Path(data.transactions).name}", as_of=as_of
        )
        if as_of is not None:  # what the time-split evaluations read: lines before its end
            end = as_of + pd.Timedelta(days=split.horizon_days)
            window = tx[(tx[s.TIMESTAMP] < end).to_numpy()]
            fingerprint["holdout_hash"] = tracking.dataset_fingerprint(
                window, source="", as_of=as_of
            )["dataset_hash"]
    else:
        if customers is None or config.churn.mode != "contractual":
            raise KizunaInputError(
                "data.transactions is required unless the experiment is contractual churn "
                "on a customers table (churn.mode: contractual, data.customers)"
            )
        tx = None
        fingerprint = tracking.dataset_fingerprint(
            customers.reset_index(),
            source=f"customers:{Path(data.customers).name}",
            as_of=as_of,
        )
        fingerprint["split"] = (
            f"{split.by}:val={split.validation_share}:test={split.test_share}"
            f":seed={config.seed if split.seed is None else split.seed}"
        )
    holdout_id = run_metadata.holdout_key(fingerprint, split.horizon_days)

    experiment_name = config.tracking.experiment_name or f"kizuna-{config.name}"
    result = ExperimentResult(config.name, "", fingerprint)
    tracking.quiet_mlflow()  # here: the warning filters below are restored after training
    # A fresh store runs its schema migrations (seconds): the writer's thread opens it and
    # starts the run while the models train, and logs each model as soon as it is trained.
    # Runs told apart by name in the MLflow UI: the experiment, its as_of and when it ran.
    run_name = f"{config.name} as_of {split.as_of} {utc_now():%Y-%m-%d %H:%M:%S}"
    writer = RunWriter(experiment_name, run_name)
    settings = config.model_dump(mode="json")
    try:
        writer.describe_run(
            tags={
                **fingerprint,
                "holdout_id": holdout_id,
                "kizuna_experiment": config.name,
            },
            params=run_metadata.flatten_params(settings),
            files={
                "config/experiment.json": settings,
                "data/reconciliation.json": report,
            },
        )
        try:
            with training_limits():
                _train_all(config, tx, items, customers, result, writer, tabular, quiet=quiet)
            store = hide_passwords(tracking.tracking_uri())
            with step(f"opening the MLflow store ({store})", quiet=quiet):
                result.run_id = writer.run_id()
            writer.log_models({k: v for k, v in result.results.items() if k not in writer.logged})
            writer.log_outcomes(
                {k: v for k, v in result.results.items() if k not in writer.described}
            )
            if result.next_order:
                writer.log_metrics(result.next_order)
            with step("logging the models, metrics and plots to MLflow", quiet=quiet):
                writer.wait()
            with step("registering the model versions", quiet=quiet):
                writer.register(result, holdout_id=holdout_id, config=config)
            if tx is not None:
                with step("writing and registering the customer snapshot", quiet=quiet):
                    writer.call(
                        run_logging.log_snapshot_for_run,
                        config, result, tx, items, customers, last_seq, fingerprint,
                    )  # fmt: skip
        except Exception as exc:
            writer.fail(exc)
            raise
        with step("closing the MLflow run", quiet=quiet):
            writer.finish()
    finally:
        writer.close()
    return result


def _train_all(
    config: ExperimentConfig,
    tx: pd.DataFrame | None,
    items: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    result: ExperimentResult,
    writer: RunWriter,
    child: TabularProcess | None,
    *,
    quiet: bool,
) -> None:
    split = config.split
    if config.churn.enabled and config.churn.mode == "contractual":
        if customers is None:
            raise KizunaInputError("contractual churn needs a customers table (data.customers)")
        with step("training contractual churn", quiet=quiet):
            result.results["churn"] = train_contractual_churn(
                customers, config.churn, seed=config.seed, split=split
            )
    if tx is None:
        return
    as_of = pd.Timestamp(split.as_of)
    kinds = tabular_kinds(config)
    # Churn, LTV and uplift share nothing with the recommender but the data:
    # they train in a child process meanwhile (each model on its own fixed
    # threads, so the results do not change), a thread here waits for them and
    # queues their logging, and the main thread shows the recommender's steps.
    pool = ThreadPoolExecutor(1, thread_name_prefix="kizuna-tabular")
    try:
        tabular = None
        if child is not None:
            tabular = pool.submit(
                copy_context().run, _tabular_then_log, writer, child,
                config, tx, items, customers, kinds,
            )  # fmt: skip
        if config.recommender.enabled:
            from kizuna.training.train_recommender import train_recommender

            # Components fitted on the same split by several models (tuning probe,
            # hybrid, baselines, re-ranker generators) are fitted once and shared.
            with shared_fits():
                result.results["recommender"] = train_recommender(
                    tx,
                    as_of,
                    split.horizon_days,
                    config.recommender,
                    seed=config.seed,
                    items=items,
                    customers=customers,
                    progress=lambda title: step(title, quiet=quiet),
                )
            # Its model is logged while the audiences are evaluated; its metrics after.
            writer.log_models({"recommender": result.results["recommender"]})
        if tabular is None:
            return
        on = {"churn": "churn" in kinds, "LTV": "ltv" in kinds,
              "uplift": config.uplift.enabled}  # fmt: skip
        names = ", ".join(name for name, wanted in on.items() if wanted)
        with step(
            f"feature snapshots and {names} (trained and logged alongside the recommender)",
            quiet=quiet,
        ):
            test, results, next_order = tabular.result()
    finally:
        if child is not None:  # still running only when the training failed: end it
            child.stop()  # (the waiting thread then gets the child's end, not a result)
        pool.shutdown(wait=True, cancel_futures=True)
    result.next_order = next_order
    recommender = result.results.get("recommender")
    if recommender is not None and recommender.evaluation is not None:
        with step("evaluating audiences on the holdout", quiet=quiet):
            model, holdout = recommender.evaluation
            recommender.extra_metrics.update(
                evaluate_audiences(
                    model,
                    holdout,
                    tx,
                    test.X,
                    test.bgnbd,
                    horizon_days=split.horizon_days,
                    btyd_unit=config.btyd.time_unit,
                )  # fmt: skip
            )
            recommender.evaluation = None  # not needed after this: free the memory
    result.results.update(results)


def _tabular_then_log(writer: RunWriter, child: TabularProcess, *args: Any) -> Any:
    """:func:`training.tabular_stage.train_tabular_stage` in ``child``, then its models' logging queued at once."""
    test, results, next_order = child.train(*args)
    _log_tabular(results, writer)
    return test, results, next_order


def _log_tabular(results: dict[str, Any], writer: RunWriter) -> None:
    writer.log_models(results)
    writer.log_outcomes(results)
