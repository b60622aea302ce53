"""Records as JSON Lines: the format of ``agentmem export`` and ``agentmem import``.

One record per line, a JSON object with every field a store keeps::

    {"ref": {"kind": "skill", "namespace": "shared", "id": "deploy"}, "version": 3,
     "created_at": "2025-01-02T03:04:05.000006+00:00", "updated_at": "...",
     "expires_at": null, "tags": ["ops"], "text": "deploy the service",
     "body": {"blob": {"$bytes": "AAEC"}, "seen": {"$datetime": "2025-01-02T03:04:05+00:00"}}}

Record datetimes are ISO-8601 strings (or null); tags are a sorted list; a record with
an embedding has ``"embedding": {"scale": float, "codes": base64 int8}`` (absent
otherwise). A body holds plain JSON values plus three kinds of value JSON has no type
for, each written as an object with one ``$``-key (a *marker*):

- ``{"$bytes": "<base64>"}``: bytes (standard base64 with padding);
- ``{"$datetime": "<ISO-8601>"}``: a timezone-aware datetime, microseconds and offset kept;
- ``{"$float": "inf" | "-inf" | "nan"}``: the floats strict JSON cannot spell.

So that no body can be mistaken for a marker, a body dict that itself has exactly one
key starting with ``$`` is written wrapped as ``{"$dict": {...}}``. Decoding refuses any
other one-key ``$`` object, so every line has exactly one meaning.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any

from agentmem.errors import InvalidInput
from agentmem.store import Record, Ref
from agentmem.vectors import Embedding

__all__ = [
    "decode_value",
    "dumps_record",
    "encode_value",
    "loads_record",
    "read_records",
    "record_from_json",
    "record_to_json",
    "write_records",
]

_BYTES = "$bytes"
_DATETIME = "$datetime"
_FLOAT = "$float"
_DICT = "$dict"
_LINE_BREAK_ESCAPES = {ord(ch): f"\\u{ord(ch):04x}" for ch in "\x85\u2028\u2029"}
_SPECIAL_FLOATS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode_value(value: Any) -> Any:
    """A body value as JSON-ready data (markers for bytes, datetimes and non-finite floats)."""
    # bool before int/float: bool is an int subclass and must stay a JSON true/false.
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {_FLOAT: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        # A naive datetime (allowed in bodies) is written without an offset and read back
        # naive; an aware one keeps its offset.
        if value.utcoffset() is None:
            value = value.replace(tzinfo=None)
        return {_DATETIME: value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, Mapping):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"body dict keys must be str, got {type(key).__name__}")
            encoded[key] = encode_value(item)
        if len(encoded) == 1 and next(iter(encoded)).startswith("$"):
            return {_DICT: encoded}
        return encoded
    raise InvalidInput(f"cannot write a {type(value).__name__} as JSON Lines")


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`; raises InvalidInput on a malformed marker."""
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key.startswith("$"):
            return _decode_marker(key, inner)
    return {key: decode_value(item) for key, item in value.items()}


def _decode_marker(key: str, inner: Any) -> Any:
    if key == _DICT and isinstance(inner, dict):
        return {k: decode_value(v) for k, v in inner.items()}
    if key == _BYTES and isinstance(inner, str):
        try:
            return base64.b64decode(inner.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise InvalidInput(f"{_BYTES} is not valid base64: {inner[:40]!r}") from None
    if key == _DATETIME and isinstance(inner, str):
        return _parse_datetime(_DATETIME, inner, allow_naive=True)
    if key == _FLOAT and isinstance(inner, str) and inner in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[inner]
    raise InvalidInput(f"unknown or malformed marker {{{key!r}: {inner!r}}}"[:200])


def _parse_datetime(what: str, text: Any, *, allow_naive: bool = False) -> datetime:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be an ISO-8601 string, got {text!r}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} is not an ISO-8601 datetime: {text!r}") from None
    if parsed.tzinfo is None and not allow_naive:
        raise InvalidInput(f"{what} has no UTC offset: {text!r}")
    return parsed


def _optional_datetime(what: str, text: Any) -> datetime | None:
    return None if text is None else _parse_datetime(what, text)


def record_to_json(record: Record) -> dict[str, Any]:
    """The JSON object for one record (see the module docstring)."""
    ref = record.ref
    out: dict[str, Any] = {
        "ref": {"kind": ref.kind, "namespace": ref.namespace, "id": ref.id},
        "version": record.version,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "expires_at": _iso(record.expires_at),
        "tags": sorted(record.tags),
        "text": record.text,
        "body": encode_value(record.body),
    }
    if record.embedding is not None:
        # Optional: files without vectors look exactly as before.
        out["embedding"] = {
            "scale": record.embedding.scale,
            "codes": base64.b64encode(record.embedding.codes).decode("ascii"),
        }
    return out


def _embedding_from_json(data: Any) -> Embedding | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("codes"), str):
        raise InvalidInput("embedding must be an object with scale and base64 codes")
    scale = data.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise InvalidInput("embedding scale must be a number")
    try:
        codes = base64.b64decode(data["codes"].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidInput("embedding codes are not valid base64") from None
    return Embedding(codes, float(scale))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def record_from_json(data: Any) -> Record:
    """The record a JSON object describes; raises InvalidInput when a field is missing or wrong."""
    if not isinstance(data, dict):
        raise InvalidInput(f"a line must hold a JSON object, got {type(data).__name__}")
    try:
        ref_data = data["ref"]
        if not isinstance(ref_data, dict):
            raise InvalidInput("ref must be an object with kind, namespace and id")
        body = decode_value(data["body"])
        if not isinstance(body, dict):
            raise InvalidInput("body must be a JSON object")
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidInput("tags must be a list of str")
        return Record(
            ref=Ref(ref_data["kind"], ref_data["namespace"], ref_data["id"]),
            version=data["version"],
            created_at=_optional_datetime("created_at", data["created_at"]),
            updated_at=_optional_datetime("updated_at", data["updated_at"]),
            expires_at=_optional_datetime("expires_at", data["expires_at"]),
            tags=frozenset(tags),
            text=data["text"],
            body=body,
            embedding=_embedding_from_json(data.get("embedding")),
        )
    except KeyError as exc:
        raise InvalidInput(f"missing field {exc.args[0]!r}") from None


def dumps_record(record: Record) -> str:
    """One record as one line of JSON (no trailing newline); non-ASCII text kept readable."""
    # allow_nan=False: non-finite floats were already turned into markers, so strict JSON
    # is guaranteed and any other reader can parse the file.
    line = json.dumps(record_to_json(record), ensure_ascii=False, allow_nan=False)
    # json escapes U+0000..U+001F but not these, and str.splitlines() (and many readers)
    # break lines at them; they can only occur inside JSON strings, so escaping is safe.
    return line.translate(_LINE_BREAK_ESCAPES)


def loads_record(line: str) -> Record:
    """The record one line of JSON describes (see :func:`record_from_json`)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc.msg} at column {exc.colno}") from None
    return record_from_json(data)


def write_records(records: Iterable[Record], out: IO[str]) -> int:
    """Write records one per line; return how many were written."""
    written = 0
    for record in records:
        out.write(dumps_record(record) + "\n")
        written += 1
    return written


def read_records(lines: Iterable[str], *, source: str = "<input>") -> Iterator[Record]:
    """Parse JSON Lines lazily, skipping blank lines; errors name ``source`` and the line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield loads_record(line)
        except InvalidInput as exc:
            raise InvalidInput(f"{source}:{number}: {exc}") from None
