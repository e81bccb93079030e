"""The ledger's transcoder: the library's JSON transcoder, writing faster.

Every event the ledger stores is written by ``JSONTranscoder.encode``, which calls
``JSONEncoder.encode``, which builds a new C encoder for each event. This one builds
it once (``domain/jsontext.py``) and writes the same bytes: a store written by either
reads back with either, and the events' hashes do not depend on it (they hash their
own canonical document, ``domain/integrity.py``).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import JSONTranscoder

from handoff_ledger.domain.jsontext import writer

__all__ = ["LedgerTranscoder"]


class LedgerTranscoder(JSONTranscoder):
    """``JSONTranscoder`` with its encoder's C encoder built once; decodes as it does."""

    def __init__(self) -> None:
        super().__init__()
        self._write = writer(self.encoder)

    def encode(self, obj: Any) -> bytes:
        return self._write(obj).encode("utf8")
