"""Options and time values: Python forms checked and turned into the library's.

How this works: pp_options_json() describes every option (camelCase name,
snakeName, scope "client" or "producer", type, enum values, min, max, and
"negative" when any negative value is accepted too). ``encode`` checks the
options given in snake_case against it, names, scopes, types and ranges,
before anything reaches the library, so that every error names an option as
the caller spelled it, and returns the library's JSON object. Durations are
``timedelta`` or an ``int`` of milliseconds, instants ``datetime`` (naive:
local time) or an ``int`` of milliseconds since the epoch; floats are refused
so that seconds are never taken for milliseconds. The schema option is a type
name or a dict, passed on as JSON for the library to check, with a dict or
list definition turned into its JSON text. ``snake`` puts Python's names into
the library's texts.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Optional, Union

from . import _native
from .errors import PulsarProducerError, error

Duration = Union[timedelta, int]
Instant = Union[datetime, int]
INT64_MAX = 2**63 - 1


class Spec(NamedTuple):
    name: str  # camelCase
    scope: str
    type: str
    values: tuple[str, ...]
    min: Optional[int]
    max: Optional[int]
    negative: str  # what a negative value means; "" if refused


OPTIONS = {r["snakeName"]: Spec(r["name"], r["scope"], r["type"], tuple(r.get("values", ())), r.get("min"),
                                r.get("max"), r.get("negative", ""))
           for r in json.loads(_native.PYLIB.pp_options_json().decode())}
_NAMES = {s.name: snake for snake, s in OPTIONS.items()} | {
    "event_time_ms": "event_time", "deliver_at_ms": "deliver_at", "deliver_after_ms": "deliver_after",
    "null_value": "payload None", "ordering_key_len": "ordering_key", "key_len": "key",
    "value_json": "value", "keyValueEncoding": "key_value_encoding"}
_WORDS = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _NAMES), key=len, reverse=True)) + r")\b")


def snake(text: str) -> str:
    """The library's text with Python's names for options and message fields."""
    return _WORDS.sub(lambda m: _NAMES[m.group(1)], text)


def scope_of(name: str) -> str:
    return OPTIONS[name].scope if name in OPTIONS else "producer"


def _show(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def number(value: object, what: str, ms: bool = False, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """An int (with ms, also a timedelta, in whole ms rounded up) in [lo, hi]; else TypeError or
    ValueError naming ``what``."""
    if isinstance(value, timedelta) and ms:
        value = -((-value) // timedelta(milliseconds=1))
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number: {value!r}")
    elif not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be {'a datetime.timedelta or an int of milliseconds' if ms else 'an int'}, "
                        f"not {_show(value)}")
    assert isinstance(value, int)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{what} is out of range: {value} (it must be between {lo} and {hi})")
    return value


def instant_ms(value: object, what: str) -> int:
    """An Instant as ms since the epoch."""
    if isinstance(value, datetime):
        value = math.floor(value.timestamp() * 1000)
    elif isinstance(value, (bool, str, bytes, timedelta)) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a datetime.datetime or an int of milliseconds since the epoch, "
                        f"not {_show(value)}")
    return number(value, what, lo=0, hi=INT64_MAX)


def _value(spec: Spec, name: str, value: object) -> Any:
    """The JSON value of one option, or InvalidConfiguration naming it."""
    what, kind = f'option "{name}"', spec.type
    if kind in ("integer", "milliseconds"):
        try:
            n = number(value, what, ms=kind == "milliseconds")
        except (TypeError, ValueError) as exc:
            raise invalid(str(exc)) from None
        lo, hi = spec.min if spec.min is not None else -INT64_MAX - 1, spec.max if spec.max is not None else INT64_MAX
        if lo <= n <= hi or (spec.negative and -INT64_MAX - 1 <= n < 0):
            return n
        unit = " ms" if kind == "milliseconds" else ""
        also = f", or negative for {spec.negative}" if spec.negative else ""
        raise invalid(f"{what} is out of range: {n}{unit} (it must be between {lo} and {hi}{unit}{also})")
    if (kind == "boolean" and isinstance(value, bool)) or (kind == "string" and isinstance(value, str)):
        return value
    if kind == "enum" and isinstance(value, str):
        for v in spec.values:  # case and underscores do not matter: wait_for_exclusive is waitForExclusive
            if v.replace("_", "").lower() == value.replace("_", "").lower():
                return v
    if kind == "object" and isinstance(value, Mapping) and all(isinstance(x, str) for kv in value.items() for x in kv):
        return dict(value)
    if kind == "schema" and isinstance(value, (str, Mapping)):
        return schema_json(value, name)
    want = {"boolean": "True or False", "string": "a str", "object": "a mapping of str to str",
            "schema": "a schema type name (str) or a dict of type, name, definition, properties, key, value and "
                      "key_value_encoding",
            "enum": "one of " + ", ".join(spec.values)}.get(kind, "valid")
    raise invalid(f"{what} must be {want}, not {_show(value)}")


_SCHEMA_KEYS = {"key_value_encoding": "keyValueEncoding"}  # Python's spelling of the schema's one camelCase key


def schema_json(value: Union[str, Mapping[Any, Any]], where: str) -> Any:
    """The schema option as the library's JSON: a dict or list definition becomes its JSON text; the
    library checks the rest (type, members, the definition itself)."""
    if isinstance(value, str):
        return value
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise invalid(f'option "{where}": the keys of a schema are str, not {_show(k)}')
        k = _SCHEMA_KEYS.get(k, k)
        if k == "definition" and isinstance(v, (Mapping, list)):
            try:
                v = json.dumps(v)
            except (TypeError, ValueError) as exc:
                raise invalid(f'option "{where}": the definition cannot be written as JSON: {exc}') from None
        elif k in ("key", "value") and isinstance(v, Mapping):
            v = schema_json(v, f"{where}.{k}")
        out[k] = v
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise invalid(f'option "{where}" cannot be written as JSON: {exc}') from None
    return out


def invalid(message: str) -> PulsarProducerError:
    return error("InvalidConfiguration", message)


def encode(options: Mapping[str, object], scope: Optional[str], where: str) -> dict[str, Any]:
    """The options as the library's JSON object (None values left out). ``scope`` is the one ``where``
    takes ("client", "producer", or None for both)."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        spec = OPTIONS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, OPTIONS, 1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise invalid(f'option "{name}" is unknown{hint}; options are snake_case, as in docs/OPTIONS.md')
        if scope is not None and spec.scope != scope:
            home = "Client()" if spec.scope == "client" else "Client.create_producer()"
            raise invalid(f'option "{name}" is a {spec.scope} option: give it to {home}, not {where}')
        if value is not None:
            out[spec.name] = _value(spec, name, value)
    return out
