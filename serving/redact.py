"""Passwords out of anything kizuna shows: ``postgresql://user:secret@host`` becomes
``postgresql://user:***@host`` in probes, progress lines, ``--json`` output and errors."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:)[^@/\s]+@")


def hide_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL replaced by ``***``.

    Parameters
    ----------
    text
        Any text, e.g. an error message.

    Returns
    -------
    str
    """
    return _CREDENTIALS.sub(r"\1***@", text)
