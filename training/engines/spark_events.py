"""Stored ``/events`` lines on Spark: appended after the file's rows, as the pandas engine does.

The service stores purchases in a SQLite file (:mod:`serving.event_store`);
it is small, so the driver reads it (:func:`serving.event_rows.read_events`)
and Spark gets it as a DataFrame. As in
:func:`training.data.load_transactions_and_events`, the file's timestamps are
parsed under its rule and the stored ones as ISO text, ids are made text,
and the events take the input positions after the file's rows. A customer's
lines must meet in one shard, so both sources are sharded on the canonical
customer id (the file's computed by its format adapter, batch by batch).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.features import schema as s
from kizuna.training.config import DataConfig
from kizuna.training.engines.spark_io import ROW, SparkRaw

KEY = "__event_key"  # the canonical customer id, text: the shard key of both sources
PREFIX = "__ev__"
ID_COLUMNS = (s.CUSTOMER_ID, s.ORDER_ID, s.ITEM_ID)
#: Validation option: input positions from here on are stored events (``stored_rows``).
STORED_FROM = "stored_from"


def with_stored_events(raw: SparkRaw, data: DataConfig, experiment: str | None) -> SparkRaw:
    """``raw`` with ``experiment``'s stored events appended (``raw`` itself when there are none).

    See :func:`training.stored_events.event_store_path`.

    Parameters
    ----------
    raw
        The raw lines read on Spark.
    data
        The experiment's ``data:`` section.
    experiment
        The experiment whose stored events are read, or None.

    Returns
    -------
    SparkRaw
    """
    from kizuna.serving.event_rows import EVENT_COLUMNS, SEQ, read_events
    from kizuna.training.stored_events import event_store_path

    store = event_store_path(data, experiment)
    events = read_events(store) if store is not None else None
    if events is None or events.empty:
        return raw
    frame = raw.frame
    spark = frame.sparkSession
    source_cols = [c for c in frame.columns if c != ROW]
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    event_cols = [PREFIX + c for c in EVENT_COLUMNS]
    event_types = {PREFIX + c: "string" for c in EVENT_COLUMNS}
    event_types.update({PREFIX + s.QUANTITY: "double", PREFIX + s.UNIT_PRICE: "double"})
    schema = ", ".join(
        [f"`{c}` {types[c]}" for c in frame.columns]
        + [f"`{KEY}` string"]
        + [f"`{c}` {event_types[c]}" for c in event_cols]
    )
    adapter = raw.adapter

    def keyed(batches: Any) -> Any:
        from kizuna.features.contract import ids_to_str

        for batch in batches:
            canonical = adapter(batch[source_cols].reset_index(drop=True))
            out = batch.reset_index(drop=True)
            out[KEY] = _key(ids_to_str(canonical[s.CUSTOMER_ID]))
            for col in event_cols:
                out[col] = None
            yield _arrow_safe(out)

    n_rows = raw.n_rows if raw.n_rows is not None else frame.count()
    stored = events.drop(columns=[SEQ]).reset_index(drop=True)
    stored[s.TIMESTAMP] = stored[s.TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = stored.add_prefix(PREFIX)
    rows[ROW] = range(n_rows, n_rows + len(stored))
    rows[KEY] = _key(stored[s.CUSTOMER_ID])
    for col in source_cols:
        rows[col] = None
    rows = rows[[*frame.columns, KEY, *event_cols]]
    appended = frame.mapInPandas(keyed, schema).unionByName(
        spark.createDataFrame(_arrow_safe(rows), schema)
    )
    kwargs = {k: v for k, v in raw.validate_kwargs.items() if k == "allow_zero_price"}
    kwargs[STORED_FROM] = n_rows  # input positions of the stored events: see validate_lines
    return SparkRaw(
        frame=appended,
        customer_col=KEY,
        adapter=_EventAdapter(adapter, source_cols, dict(raw.validate_kwargs)),
        validate_kwargs=kwargs,
        direct_customer=False,  # the validator names a missing id, as in pandas
        id_key=True,
        last_event_seq=int(events[SEQ].max()),
        n_rows=n_rows + len(stored),
    )


class _EventAdapter:
    """Format adapter of a shard that holds file rows and stored events (picklable)."""

    def __init__(self, inner: Any, source_cols: list[str], kwargs: dict[str, Any]) -> None:
        self.inner, self.source_cols, self.kwargs = inner, source_cols, kwargs

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        from kizuna.features.contract import require_columns
        from kizuna.features.timestamps import parse_timestamps
        from kizuna.training.typed_columns import typed_file_rows

        is_event = frame[PREFIX + s.CUSTOMER_ID].notna().to_numpy()
        files = self.inner(frame.loc[~is_event, self.source_cols].reset_index(drop=True))
        # As in pandas: the file's missing column fails, not filled by the events' values.
        require_columns(files, s.TRANSACTION_REQUIRED, table="transactions")
        files = typed_file_rows(files, self.kwargs)
        files.index = frame.index[~is_event]
        cols = [c for c in frame.columns if c.startswith(PREFIX)]
        stored = frame.loc[is_event, cols].rename(columns=lambda c: c[len(PREFIX) :])
        stored[s.TIMESTAMP] = parse_timestamps(stored[s.TIMESTAMP])
        for col in (*ID_COLUMNS, s.CHANNEL, s.CATEGORY):
            stored[col] = stored[col].astype("string")
        out = pd.concat([files, stored])
        return out.loc[frame.index].reset_index(drop=True)


def _key(ids: pd.Series) -> pd.Series:
    return ids.astype("string").str.strip()


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    from kizuna.training.engines.spark_session import arrow_safe

    return arrow_safe(frame)
