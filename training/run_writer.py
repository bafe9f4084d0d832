"""The MLflow run of one ``kizuna train``, written on a thread of its own while the models train."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import Any

from kizuna.training import run_logging, run_notes, tracking


class RunWriter:
    """Every MLflow call of one training run, made in order on one thread.

    MLflow's active run belongs to the thread that started it, so one thread
    makes every call. It opens the store and starts the run while the models
    train, and logs each model kind as soon as that kind is trained (churn and
    LTV while the recommender still trains). What is left for the end is what
    needs every model: registering the versions, then the customer snapshot.
    Nothing is registered unless every model trained, so a failed run
    registers nothing. Each method queues its work and returns at once,
    except those that say they wait.

    Parameters
    ----------
    experiment_name
        The MLflow experiment the run goes into (created if missing).
    run_name
        The run's name.
    """

    def __init__(self, experiment_name: str, run_name: str) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kizuna-mlflow")
        self._queued: list[Future[Any]] = []
        self._run: Future[str] = self._submit(_open_and_start, experiment_name, run_name)
        self.logged: dict[str, Future[run_logging.LoggedModel | None]] = {}
        self.described: set[str] = set()  # kinds whose metrics and plots are queued

    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        job = self._pool.submit(copy_context().run, fn, *args, **kwargs)
        self._queued.append(job)
        return job

    def describe_run(self, *, tags: dict[str, Any], params: dict[str, str], files: dict) -> None:
        """Log the run's tags (and ``git_commit``), parameters and JSON files (``{path: data}``).

        Parameters
        ----------
        tags
            Run tags.
        params
            Flat run parameters.
        files
            Artifact path -> JSON-serialisable data.
        """
        self._submit(_describe, self._run, tags, params, files)

    def run_id(self) -> str:
        """The run's id; waits for the store to open (raises its error if it did not).

        Returns
        -------
        str
        """
        return self._run.result()

    def log_models(self, outcomes: dict[str, Any]) -> None:
        """Log these kinds' models (not registered yet: :meth:`register`).

        Parameters
        ----------
        outcomes
            Model kind -> its training outcome.
        """
        for kind, outcome in outcomes.items():
            self.logged[kind] = self._submit(run_logging.log_model, kind, outcome)

    def log_outcomes(self, outcomes: dict[str, Any]) -> None:
        """Log these kinds' metrics, plots and searches, linked to their logged models.

        Parameters
        ----------
        outcomes
            Model kind -> its training outcome.
        """
        for kind, outcome in outcomes.items():
            self._submit(_log_outcome, kind, outcome, self.logged[kind])
            self.described.add(kind)

    def log_metrics(self, values: dict[str, float]) -> None:
        """Log run-level metrics.

        Parameters
        ----------
        values
            Metric name -> value.
        """
        import mlflow

        self._submit(mlflow.log_metrics, values)

    def wait(self) -> None:
        """Wait for everything queued so far (raises the first error)."""
        for job in list(self._queued):
            job.result()

    def register(self, result: Any, *, holdout_id: str, config: Any) -> None:
        """Register every logged model kind in ``result``, in its order; waits.

        Parameters
        ----------
        result
            The experiment's result.
        holdout_id
            Which holdout the versions were judged on.
        config
            The experiment config.
        """
        if not config.tracking.register_models:
            return

        def register_all() -> None:
            for kind, outcome in result.results.items():
                logged = self.logged[kind].result()
                if logged is not None:
                    run_logging.register(
                        kind, outcome, logged, result, holdout_id=holdout_id, config=config
                    )

        self._submit(register_all).result()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` inside the run, on the writer's thread; waits and returns its value.

        Parameters
        ----------
        fn
            The function to run.
        *args, **kwargs
            Passed to ``fn``.

        Returns
        -------
        Any
            ``fn``'s value.
        """
        return self._submit(fn, *args, **kwargs).result()

    def finish(self) -> None:
        """End the run as FINISHED; waits."""
        import mlflow

        self.call(mlflow.end_run)

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` in the run and end it as FAILED, if the run started; waits.

        Parameters
        ----------
        exc
            The error that ended the run.
        """
        self._cancel_queued()  # nothing more is logged for a failed run
        if self._started():
            self.call(_end_failed, exc)

    def _cancel_queued(self) -> None:
        for job in self._queued:
            if job is not self._run:  # the run itself is opened, to be ended
                job.cancel()

    def _started(self) -> bool:
        return not self._run.cancelled() and self._run.exception() is None

    def close(self) -> None:
        """Stop the thread; a run still open (an interrupt) ends as KILLED."""
        self._cancel_queued()
        try:
            if self._started():
                self.call(_end_if_active, "KILLED")
        finally:
            self._pool.shutdown(wait=True)


def _open_and_start(experiment_name: str, run_name: str) -> str:
    import mlflow

    tracking.setup_mlflow(experiment_name)
    return mlflow.start_run(run_name=run_name).info.run_id


def _describe(run: Future[str], tags: dict[str, Any], params: dict[str, str], files: dict) -> None:
    import mlflow

    run.result()
    mlflow.set_tags({**tags, "git_commit": tracking.git_commit()})
    mlflow.log_params(params)
    for path, data in files.items():
        mlflow.log_dict(data, path)


def _log_outcome(kind: str, outcome: Any, logged: Future[Any]) -> None:
    model = logged.result()
    run_logging.log_outcome(kind, outcome, model_id=None if model is None else model.model_id)


def _end_failed(exc: BaseException) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        run_notes.note_failure(exc)
        mlflow.end_run("FAILED")


def _end_if_active(status: str) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.end_run(status)
