"""py4j's resend log line (printed with its traceback on Ctrl-C) is dropped; nothing else is."""

from __future__ import annotations

import logging

from kizuna.training.engines.spark_session import _Py4jResend, quiet_py4j_resends


def test_only_py4js_resend_records_are_dropped(caplog):
    root = logging.getLogger()
    quiet_py4j_resends()
    quiet_py4j_resends()  # once per process
    try:
        assert sum(isinstance(f, _Py4jResend) for f in root.filters) == 1
        with caplog.at_level(logging.INFO):
            root.error("Exception while sending command.")
            root.error("KeyboardInterrupt while sending command.")
            root.error("something else")
        assert [r.getMessage() for r in caplog.records] == ["something else"]
    finally:
        for f in [f for f in root.filters if isinstance(f, _Py4jResend)]:
            root.removeFilter(f)
