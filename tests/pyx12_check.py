"""pyx12's validator run in-process: the reference our outputs are checked against."""

from __future__ import annotations

import io
import logging

import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def pyx12_errors(data: bytes) -> list[str]:
    """pyx12's error messages for an X12 file's bytes ([] = clean).

    pyx12 reads ASCII only and cannot skip a byte-order mark, so it is stripped."""
    text = data.decode("utf-8").lstrip("\ufeff")
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=io.StringIO(text),
                                               fd_997=io.StringIO(), fd_html=None)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    if not ok and not handler.messages:
        handler.messages.append("pyx12 returned failure without a logged message")
    return handler.messages
