"""Service settings, read once from environment variables.

Without ``KIZUNA_MODEL_SOURCE`` the service reads the registry when
``MLFLOW_TRACKING_URI`` is set, else a ``bento_models`` folder baked into a
Bento, else the registry in ``$KIZUNA_DATA_DIR``.

=============================  =============================================  ==============
variable                       meaning                                        default
=============================  =============================================  ==============
``KIZUNA_MODEL_SOURCE``        ``registry`` (MLflow at ``MLFLOW_TRACKING_URI``)  see below
                               or a model folder (``kizuna export``)
``KIZUNA_MODEL_ALIAS``         registry alias to serve                        ``champion``
``KIZUNA_API_KEY``             if set, every endpoint but the health probes   unset
                               needs it (``X-API-Key`` or ``Authorization:
                               Bearer``)
``KIZUNA_EVENT_STORE``         SQLite file of purchase events                 ``$KIZUNA_DATA_DIR/events.sqlite``
``KIZUNA_MAX_BODY_BYTES``      largest request body accepted (413 above)      2,000,000
``KIZUNA_MAX_BATCH``           most customer ids in one request (422 above)   10,000
``KIZUNA_MAX_EVENTS``          most event lines in one request (422 above)    1,000
``KIZUNA_RELOAD_POLL_SECONDS`` check the registry for new champions this      0 (off)
                               often
``KIZUNA_EXPERIMENT``          the experiment whose champions the registry    the only one
                               source serves
``KIZUNA_MAX_EVENT_VALUE``     largest quantity or unit price of an event     1,000,000
``KIZUNA_RISK_BANDS``          churn probability cut points low|medium|high   ``0.3,0.6``
=============================  =============================================  ==============
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kizuna.features.errors import KizunaInputError

REGISTRY = "registry"
#: A model folder baked into a Bento (``kizuna export --out bento_models``), found from the
#: working directory the Bento's service starts in.
BUNDLED_MODELS = "bento_models"

# Fixed limits of the request schemas (they appear in the OpenAPI document).
MAX_K = 100
MAX_ID_LENGTH = 200
MAX_LIST_ITEMS = 1_000  # exclude_items, categories


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    model_source: str = REGISTRY
    model_alias: str = "champion"
    api_key: str | None = None
    event_store: Path = Path("data/events.sqlite")
    max_body_bytes: int = 2_000_000
    max_batch: int = 10_000
    max_events: int = 1_000
    reload_poll_seconds: float = 0.0
    risk_bands: tuple[float, float] = (0.3, 0.6)
    # Offer catalogue for /next_best_offer; default: the champions' experiment's `offers:`.
    offers: Path | None = None
    contact_log: Path = Path("data/contacts.sqlite")
    experiment: str | None = None
    max_event_value: float = 1_000_000.0
    # The HTML page /report serves (written by `kizuna report --out`).
    report: Path | None = Path("data/report.html")

    @property
    def from_registry(self) -> bool:
        return self.model_source == REGISTRY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; a malformed value raises :class:`KizunaInputError` naming it."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("KIZUNA_DATA_DIR", "data"))
        # A folder that does not exist is reported by the loader, so that a
        # service started too early still answers its health probes.
        source = _model_source(env)
        return cls(
            model_source=source,
            model_alias=env.get("KIZUNA_MODEL_ALIAS", "champion").strip() or "champion",
            api_key=env.get("KIZUNA_API_KEY") or None,
            event_store=Path(env.get("KIZUNA_EVENT_STORE") or data_dir / "events.sqlite"),
            max_body_bytes=_positive_int(env, "KIZUNA_MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch=_positive_int(env, "KIZUNA_MAX_BATCH", cls.max_batch),
            max_events=_positive_int(env, "KIZUNA_MAX_EVENTS", cls.max_events),
            reload_poll_seconds=_non_negative_float(
                env, "KIZUNA_RELOAD_POLL_SECONDS", cls.reload_poll_seconds
            ),
            risk_bands=_risk_bands(env.get("KIZUNA_RISK_BANDS")),
            offers=Path(env["KIZUNA_OFFERS"]) if env.get("KIZUNA_OFFERS") else None,
            contact_log=Path(env.get("KIZUNA_CONTACT_LOG") or data_dir / "contacts.sqlite"),
            experiment=(env.get("KIZUNA_EXPERIMENT") or "").strip() or None,
            max_event_value=_positive_float(env, "KIZUNA_MAX_EVENT_VALUE", cls.max_event_value),
            report=Path(env.get("KIZUNA_REPORT") or data_dir / "report.html"),
        )


def _model_source(env: Mapping[str, str]) -> str:
    """KIZUNA_MODEL_SOURCE; else the registry when MLFLOW_TRACKING_URI is set; else a
    baked-in ``bento_models`` folder when there is one; else the registry."""
    source = (env.get("KIZUNA_MODEL_SOURCE") or "").strip()
    if source:
        return source
    bundled = Path(BUNDLED_MODELS)
    if not env.get("MLFLOW_TRACKING_URI") and (bundled / "versions.json").exists():
        return str(bundled.resolve())
    return REGISTRY


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise KizunaInputError("must be a whole number", column=name, values=[raw]) from None
    if value < 1:
        raise KizunaInputError("must be at least 1", column=name, values=[raw])
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _non_negative_float(env, name, default)
    if not 0 < value < float("inf"):
        raise KizunaInputError("must be a positive finite number", column=name, values=[value])
    return value


def _non_negative_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise KizunaInputError("must be a number of seconds", column=name, values=[raw]) from None
    if not value >= 0:
        raise KizunaInputError("must not be negative", column=name, values=[raw])
    return value


def _risk_bands(raw: str | None) -> tuple[float, float]:
    if raw is None or raw.strip() == "":
        return Settings.risk_bands
    try:
        low, high = (float(x) for x in raw.split(","))
    except ValueError:
        raise KizunaInputError(
            "must be two probabilities 'low,high', e.g. 0.3,0.6",
            column="KIZUNA_RISK_BANDS",
            values=[raw],
        ) from None
    if not 0 < low < high < 1:
        raise KizunaInputError("needs 0 < low < high < 1", column="KIZUNA_RISK_BANDS", values=[raw])
    return low, high
