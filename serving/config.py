"""Service settings, read from environment variables when the service starts.

Without ``KIZUNA_MODEL_SOURCE`` the service reads the registry when
``MLFLOW_TRACKING_URI`` is set, else a ``bento_models`` folder baked into a
Bento, else the registry in ``$KIZUNA_DATA_DIR``.

===================================  =============================================  ==============
variable                             meaning                                        default
===================================  =============================================  ==============
``KIZUNA_DATA_DIR``                  the folder of every store not set below        ``data``
                                     (registry, events, contacts, report, offers)
``MLFLOW_TRACKING_URI``              the MLflow tracking store and registry         ``sqlite:///$KIZUNA_DATA_DIR/mlflow.db``
``KIZUNA_MODEL_SOURCE``              ``registry`` (MLflow at                        see above
                                     ``MLFLOW_TRACKING_URI``) or a model folder
                                     (``kizuna export``)
``KIZUNA_MODEL_ALIAS``               registry alias to serve                        ``champion``
``KIZUNA_API_KEY``                   if set, every endpoint but the health probes   unset
                                     needs it (``X-API-Key`` or ``Authorization:
                                     Bearer``)
``KIZUNA_PUBLIC_DOCS``               with an API key: ``/``, ``/docs.json`` stay    ``false``
                                     open
``KIZUNA_CORS_ORIGINS``              comma-separated origins browsers may call      unset (no CORS)
                                     from (``*`` for any)
``KIZUNA_ALLOWED_HOSTS``             comma-separated names the ``Host`` header may  without an API key:
                                     carry (``*`` any, ``*.example.com`` any under  ``localhost``,
                                     it); the probes and ``/metrics`` answer any;   ``127.0.0.1``,
                                     others 400 (no DNS rebinding)                  ``::1`` and the
                                                                                    service's address;
                                                                                    with one: any
``KIZUNA_EVENT_STORE``               SQLite file of purchase events                 ``$KIZUNA_DATA_DIR/events/<experiment>.sqlite``
``KIZUNA_CONTACT_LOG``               contact log (SQLite, or CSV) of offers and     ``$KIZUNA_DATA_DIR/contacts/<experiment>.sqlite``
                                     recommendations shown
``KIZUNA_MAX_BODY_BYTES``            largest request body accepted (413 above)      2,000,000
``KIZUNA_MAX_BATCH``                 most customer ids in one request (422 above)   10,000
``KIZUNA_MAX_EVENTS``                most event lines in one request (422 above)    1,000
``KIZUNA_BODY_TIMEOUT``              seconds to send a request body (408 after)     10
``KIZUNA_HEADER_TIMEOUT``            seconds to send request headers / idle         5
                                     keep-alive (connection closed after)
``KIZUNA_RELOAD_POLL_SECONDS``       check the registry for new champions this      0 (off)
                                     often
``KIZUNA_EXPERIMENT``                the served experiment (its champions, event    the folder's, else
                                     store and contact log); needed at start by a   the registry's
                                     service whose models do not exist yet          only one
``KIZUNA_MAX_EVENT_VALUE``           largest quantity or unit price of an event     1,000,000
``KIZUNA_RISK_BANDS``                churn probability cut points low|medium|high   ``0.3,0.6``
``KIZUNA_REPORT``                    the HTML page ``/report`` serves               ``$KIZUNA_DATA_DIR/report.html``
``KIZUNA_AUDIENCE_CACHE_BYTES``      largest score matrix (customers x items x 8)   536,870,912
                                     kept for ``/audience``; a larger one (or 0):   (512 MiB)
                                     scored on each request
``KIZUNA_AUDIENCE_WAIT_SECONDS``     longest wait of an ``/audience`` request for   5
                                     the scores computed after a load; then 503
                                     with ``Retry-After``
===================================  =============================================  ==============

Nothing here runs at import time: :meth:`Settings.from_env` is called by the
service when it starts (and by the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kizuna.features.errors import KizunaInputError

REGISTRY = "registry"
ENV_PREFIX = "KIZUNA_"
#: A model folder baked into a Bento (``kizuna export --out bento_models``), found from the
#: working directory the Bento's service starts in.
BUNDLED_MODELS = "bento_models"

# Fixed limits of the request schemas (they appear in the OpenAPI document).
MAX_K = 100
MAX_ID_LENGTH = 200
MAX_LIST_ITEMS = 1_000  # exclude_items, categories
MAX_TOP_REASONS = 10

#: Folders of the data folder holding one SQLite store per experiment: purchase events
#: and the contact log belong to the shop an experiment trains on, not to every experiment.
EVENTS_DIR = "events"
CONTACTS_DIR = "contacts"
#: The shared stores of kizuna before they were kept per experiment; no longer read.
LEGACY_STORES = ("events.sqlite", "contacts.sqlite")


def experiment_store(data_dir: Path, folder: str, experiment: str) -> Path:
    """``data_dir/<folder>/<experiment>.sqlite``: a store that belongs to one experiment.

    Parameters
    ----------
    data_dir
        The data folder.
    folder
        The kind of store (``events``, ``contacts``).
    experiment
        The experiment's name.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KizunaInputError
        If the experiment's name cannot be a file name.
    """
    if not experiment.strip() or experiment.startswith(".") or any(c in experiment for c in "/\\"):
        raise KizunaInputError(
            f"experiment name {experiment!r} cannot name a store file: use letters, digits, "
            "'-', '_' or '.', not starting with '.'"
        )
    return data_dir / folder / f"{experiment}.sqlite"


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """One line per ``KIZUNA_*`` variable that no setting reads (a typo is ignored silently
    otherwise: ``KIZUNA_DATADIR`` leaves the data folder at ``./data``), with the nearest name.

    Parameters
    ----------
    environ
        The environment.

    Returns
    -------
    list of str
        One line per unknown variable.
    """
    import difflib

    known = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    lines = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            lines.append(f"{name} is not a kizuna setting and is ignored{hint}")
    return lines


class Settings(BaseSettings):
    """Everything the service reads from its environment (``KIZUNA_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    model_source: str = ""  # empty: see the module docstring
    model_alias: str = "champion"
    api_key: str | None = None
    public_docs: bool = False
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # None: the default of serving.hosts (loopback and the service's address without a key).
    allowed_hosts: Annotated[tuple[str, ...] | None, NoDecode] = None
    data_dir: Path = Path("data")
    event_store: Path | None = None
    max_body_bytes: int = Field(2_000_000, ge=1)
    max_batch: int = Field(10_000, ge=1)
    max_events: int = Field(1_000, ge=1)
    body_timeout: float = Field(10.0, gt=0)
    header_timeout: float = Field(5.0, gt=0)
    reload_poll_seconds: float = Field(0.0, ge=0)
    risk_bands: Annotated[tuple[float, float], NoDecode] = (0.3, 0.6)
    # Offer catalogue for /next_best_offer; default: the champions' experiment's `offers:`.
    offers: Path | None = None
    contact_log: Path | None = None
    experiment: str | None = None
    max_event_value: float = Field(1_000_000.0, gt=0, allow_inf_nan=False)
    # The HTML page /report serves (written by `kizuna report --out`); default in data_dir.
    report: Path | None = None
    # /audience: the kept scores' cap, and how long a request waits for them after a load.
    audience_cache_bytes: int = Field(512 * 2**20, ge=0)
    audience_wait_seconds: float = Field(5.0, ge=0, allow_inf_nan=False)
    # Read without the KIZUNA_ prefix: it decides the default model source.
    mlflow_tracking_uri: str | None = Field(None, validation_alias="MLFLOW_TRACKING_URI")

    @property
    def from_registry(self) -> bool:
        return self.model_source == REGISTRY

    @field_validator("model_source", "model_alias", mode="before")
    @classmethod
    def _stripped(cls, value: object, info) -> object:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].default
        return value.strip() if isinstance(value, str) else value

    @field_validator(
        "api_key", "offers", "event_store", "contact_log", "experiment", "report", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_key")
    @classmethod
    def _strip_key(cls, value: str | None) -> str | None:
        # The presented key is stripped: a key set with a stray space could never match.
        return None if value is None else value.strip()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            value = value.split(",")
        if value is None:
            return None
        hosts = []
        for entry in value:  # type: ignore[attr-defined]
            host = str(entry).strip().lower().rstrip(".")
            if host.startswith("[") and host.endswith("]"):
                host = host[1:-1]
            if not host:
                continue
            if (
                host.count(":") == 1
                or "/" in host
                or (host.startswith("*") and host != "*" and not host.startswith("*."))
            ):
                raise ValueError(
                    f"{str(entry).strip()!r} is not a host name: give names or addresses without "
                    "scheme or port, '*.example.com' for a domain, '*' for any"
                )
            hosts.append(host)
        return tuple(hosts) or None

    @field_validator("risk_bands", mode="before")
    @classmethod
    def _bands(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                low, high = (float(x) for x in value.split(","))
            except ValueError:
                raise ValueError("must be two probabilities 'low,high', e.g. 0.3,0.6") from None
            value = (low, high)
        low, high = value  # type: ignore[misc]
        if not 0 < low < high < 1:
            raise ValueError("needs 0 < low < high < 1")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.model_source:
            bundled = Path(BUNDLED_MODELS)
            if not self.mlflow_tracking_uri and (bundled / "versions.json").exists():
                self.model_source = str(bundled.resolve())
            else:
                self.model_source = REGISTRY
        # Nothing is created here: a folder that does not exist is reported by the
        # loader or the store, so a service started too early still answers its probes.
        if self.report is None:
            self.report = self.data_dir / "report.html"
        return self

    def for_experiment(self, experiment: str) -> Settings:
        """These settings with the experiment's own event store and contact log where unset.

        ``KIZUNA_EVENT_STORE`` / ``KIZUNA_CONTACT_LOG`` win; else
        ``$KIZUNA_DATA_DIR/events/<experiment>.sqlite`` and ``contacts/<experiment>.sqlite``.

        Parameters
        ----------
        experiment
            The experiment's name.

        Returns
        -------
        Settings
        """
        return self.model_copy(
            update={
                "experiment": self.experiment or experiment,
                "event_store": self.event_store
                or experiment_store(self.data_dir, EVENTS_DIR, experiment),
                "contact_log": self.contact_log
                or experiment_store(self.data_dir, CONTACTS_DIR, experiment),
            }
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings (from ``environ`` only, if given).

        Parameters
        ----------
        environ
            Variables to read, or None for the process environment.

        Returns
        -------
        Settings

        Raises
        ------
        KizunaInputError
            Naming the variable whose value is malformed, with the value.
        """
        try:
            if environ is None:
                return cls()
            given: dict[str, str] = {
                name[len(ENV_PREFIX) :].lower(): value
                for name, value in environ.items()
                if name.startswith(ENV_PREFIX)
                and name[len(ENV_PREFIX) :].lower() in cls.model_fields
            }
            given.pop("mlflow_tracking_uri", None)
            if "MLFLOW_TRACKING_URI" in environ:
                given["MLFLOW_TRACKING_URI"] = environ["MLFLOW_TRACKING_URI"]
            # model_validate reads only `given`, never the process environment.
            return cls.model_validate(given)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            name = f"{ENV_PREFIX}{str(first['loc'][0]).upper()}" if first["loc"] else ENV_PREFIX
            message = str(first["msg"]).removeprefix("Value error, ")
            raw = first.get("input")
            raise KizunaInputError(f"environment variable {name}={raw!r}: {message}") from None
