"""JSON text written with the C encoder built once, not once per document.

``json.JSONEncoder.encode`` builds a new C encoder on every call: for the small
documents the ledger writes (an event's fields, its hash document, a feed entry)
that is about a third of the time of writing one (docs/performance.md). These
writers build it once, with the encoder's own options, as ``iterencode`` would, and
write exactly what ``encode`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as json_encoder
from typing import Any

__all__ = ["writer"]


def writer(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, with its C encoder built once.

    Without the circular-reference check (``check_circular``): what is written here
    was decoded from JSON or built fresh for the document, so it holds no cycle (one
    would end in ``RecursionError`` rather than ``ValueError``). Falls back to
    ``encoder.encode`` where Python has no C accelerator or the encoder indents.
    """
    make: Any = getattr(json_encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return encoder.encode
    write = make(
        None,
        encoder.default,
        json_encoder.encode_basestring_ascii
        if encoder.ensure_ascii
        else json_encoder.encode_basestring,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )

    def encode(document: Any) -> str:
        return "".join(write(document, 0))

    return encode
