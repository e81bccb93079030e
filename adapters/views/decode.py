"""Stored events → domain events for the views, without the library mapper's detours.

The library's mapper decodes an event's JSON through a Python object hook (one call
per JSON object, nested ones included) and builds every UUID through ``UUID()``'s
parsing. Catching the views up over a long log spends about a fifth of its time
there. :class:`EventDecoder` gives the same events (same class, same attribute
values, same attribute order) a cheaper way: the C JSON decoder with no hook, then
only the top-level values that carry a type tag (times, ids) are converted.

It takes that path only when it is sure to agree with the mapper: no cipher, no
compressor, the library's JSON transcoder, no class versions to upcast, and every
``"_type_"`` tag in the stored bytes found among the top-level values (a tag nested
in a payload, or the text ``"_type_"`` anywhere else, sends the event to the mapper).
Anything else is decoded by the mapper itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import resolve_topic

from handoff_ledger.adapters.ledger.transcoding import LedgerTranscoder

__all__ = ["EventDecoder"]

fromisoformat = datetime.fromisoformat
_scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner behind ``json.loads``, without its per-call detours (encoding
detection, whitespace skipping): the library's encoder writes one compact value."""

DECODES_AS_JSON = (JSONTranscoder, LedgerTranscoder)
"""Transcoders whose stored JSON this decoder reads (they decode alike)."""

_TAG = b'"_type_"'
_UUID_CACHE = 16_384
"""Ids decoded recently (an event's handoff and chain recur in the next few events).
Small enough to fill up on any long log: memory is the same at 200,000 events and
at 1,000,000."""


def _uuid_from_text(text: str) -> UUID:
    """``UUID(text)`` for 32 hex digits (or 36 with dashes), without the general parsing."""
    digits = text.replace("-", "") if len(text) == 36 else text
    if len(digits) != 32 or not (digits.isascii() and digits.isalnum()):
        return UUID(text)
    try:
        number = int(digits, 16)
    except ValueError:
        return UUID(text)  # raises the same error the mapper would
    value = object.__new__(UUID)
    object.__setattr__(value, "int", number)
    object.__setattr__(value, "is_safe", SafeUUID.unknown)
    return value


class _Kind:
    """What the decoder knows about one event class (one topic)."""

    __slots__ = ("cls", "fields", "id_type")

    def __init__(self, cls: type, fields: tuple[str, ...], id_type: type | None) -> None:
        self.cls = cls
        self.fields = fields
        self.id_type = id_type


class EventDecoder:
    """Decodes stored events exactly as ``mapper.to_domain_event`` does, faster."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.enabled = (
            mapper.cipher is None
            and mapper.compressor is None
            and type(transcoder) in DECODES_AS_JSON
        )
        self.names: dict[str, Any] = dict(getattr(transcoder, "names", {}))
        # The library's own transcodings of times and ids are inlined below.
        self.plain_times = type(self.names.get("datetime_iso")) is DatetimeAsISO
        self.plain_ids = type(self.names.get("uuid_hex")) is UUIDAsHex
        self.kinds: dict[str, _Kind | None] = {}
        self.uuids: dict[str, UUID] = {}
        self.fallbacks = 0
        """How many events went to the mapper (for tests and benchmarks)."""

    def decode(self, stored: StoredEvent) -> Any:
        """The domain event of ``stored`` (a notification or any stored event)."""
        return self.decode_entry(
            stored.topic, stored.originator_id, stored.originator_version, stored.state
        )

    def decode_entry(
        self, topic: str, originator_id: Any, originator_version: int, state: bytes
    ) -> Any:
        """The domain event stored with these values (``originator_id`` a UUID or text)."""
        kind = self.kinds.get(topic, _MISSING)
        if kind is _MISSING:
            kind = self.kinds[topic] = self._kind(topic)
        if kind is None:
            return self._fallback(topic, originator_id, originator_version, state)
        assert isinstance(kind, _Kind)
        if type(state) is not bytes:
            return self._fallback(topic, originator_id, originator_version, state)
        try:
            text = state.decode("utf8")
            values, end = _scan(text, 0)
        except (ValueError, StopIteration, RecursionError):
            text, values, end = "", None, -1  # the mapper raises its own, better error
        if end != len(text) or type(values) is not dict or "class_version" in values:
            return self._fallback(topic, originator_id, originator_version, state)
        tagged = state.count(_TAG)
        if tagged:
            for name in kind.fields:
                value = values.get(name)
                if type(value) is dict:
                    if len(value) == 2 and value.get("_type_") == "datetime_iso":
                        data = value.get("_data_")
                        if type(data) is str and self.plain_times:
                            values[name] = fromisoformat(data)
                            tagged -= 1
                            continue
                    decoded = self._special(value)
                    if decoded is _MISSING:
                        return self._fallback(topic, originator_id, originator_version, state)
                    values[name] = decoded
                    tagged -= 1
            if tagged:
                return self._fallback(topic, originator_id, originator_version, state)
        if type(originator_id) is not kind.id_type:
            if kind.id_type is UUID and type(originator_id) is str:
                originator_id = self._uuid(originator_id)
            else:
                return self._fallback(topic, originator_id, originator_version, state)
        values["originator_id"] = originator_id
        values["originator_version"] = originator_version
        event: Any = object.__new__(kind.cls)
        object.__setattr__(event, "__dict__", values)
        return event

    def _special(self, value: dict[str, Any]) -> Any:
        if len(value) != 2:
            return _MISSING
        name = value.get("_type_")
        data = value.get("_data_", _MISSING)
        if data is _MISSING or type(data) is not str:
            return _MISSING
        if name == "datetime_iso" and self.plain_times:
            return datetime.fromisoformat(data)
        if name == "uuid_hex" and self.plain_ids:
            return self._uuid(data)
        transcoding = self.names.get(name) if type(name) is str else None
        if transcoding is None:
            return _MISSING
        return transcoding.decode(data)

    def _uuid(self, text: str) -> UUID:
        found = self.uuids.get(text)
        if found is None:
            if len(self.uuids) >= _UUID_CACHE:
                self.uuids.clear()
            found = self.uuids[text] = _uuid_from_text(text)
        return found

    def _kind(self, topic: str) -> _Kind | None:
        """How to decode events of ``topic`` quickly, or None to leave them to the mapper."""
        if not self.enabled:
            return None
        try:
            cls = resolve_topic(topic)
        except Exception:  # noqa: BLE001 - the mapper reports an unknown topic its own way
            return None
        if not isinstance(cls, type) or getattr(cls, "class_version", 1) != 1:
            return None
        fields: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, annotation in getattr(klass, "__annotations__", {}).items():
                text = annotation if isinstance(annotation, str) else repr(annotation)
                if ("datetime" in text or "UUID" in text) and name not in fields:
                    fields.append(name)
        id_type = getattr(cls, "originator_id_type", None)
        if id_type not in (UUID, str):
            return None
        return _Kind(cls, tuple(fields), id_type)

    def _fallback(
        self, topic: str, originator_id: Any, originator_version: int, state: bytes
    ) -> Any:
        self.fallbacks += 1
        stored = StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=state,
        )
        return self.mapper.to_domain_event(stored)


_MISSING: Any = object()
