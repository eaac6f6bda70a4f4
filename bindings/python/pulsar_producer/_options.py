"""Producer options and time values: Python forms to the library's forms.

How this works: Producer(**options) takes the library's option names in
snake_case. The library describes every option in pp_options_json() (name,
snakeName, type, enum values, default, doc); ``OPTIONS`` is that table by
snake_case name, read once at import. ``options_json`` checks each option
against it, so that an unknown name or a value of the wrong Python type is
refused here, naming the option as the caller spelled it (a timedelta is
taken only by "milliseconds" options, a bool only by "boolean" ones, an
enum's value must be one of its values), and turns the options into the
library's JSON (timedelta -> milliseconds, mapping -> object, None -> left
out). Ranges are left to the library, whose messages name the camelCase key;
``snake_errors`` puts the caller's spelling back into them. Durations
anywhere in this package are ``datetime.timedelta`` or an ``int`` of
milliseconds; instants are ``datetime.datetime`` (naive means local time, as
datetime.timestamp() assumes) or an ``int`` of milliseconds since the Unix
epoch. Floats are refused so that a number of seconds is never taken for
milliseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Optional, Union

from . import _native
from .errors import PulsarProducerError, error_for

__all__ = [
    "Duration",
    "Instant",
    "OPTIONS",
    "OptionSpec",
    "duration_ms",
    "instant_ms",
    "options_json",
]

#: A duration: a timedelta, or an int of milliseconds.
Duration = Union[timedelta, int]
#: A point in time: a datetime, or an int of milliseconds since the epoch.
Instant = Union[datetime, int]

_MS = timedelta(milliseconds=1)
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")


class OptionSpec(NamedTuple):
    """One row of the library's option table."""

    name: str  # camelCase, as pp_start takes it
    snake_name: str
    type: str  # "string", "integer", "boolean", "milliseconds", "enum", "object"
    values: tuple[str, ...]  # of an enum
    default: str
    doc: str


def _load_table() -> dict[str, OptionSpec]:
    rows = json.loads(_native.PYLIB.pp_options_json().decode("utf-8"))
    return {
        row["snakeName"]: OptionSpec(
            row["name"],
            row["snakeName"],
            row["type"],
            tuple(row.get("values") or ()),
            str(row.get("default", "")),
            row.get("doc", ""),
        )
        for row in rows
    }


#: Every option the library takes, by snake_case name.
OPTIONS: dict[str, OptionSpec] = _load_table()


def duration_ms(value: object, what: str) -> int:
    """A Duration as an int of milliseconds (a timedelta rounds up to the next ms)."""
    if isinstance(value, timedelta):
        return -((-value) // _MS)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(
        f"{what} must be a datetime.timedelta or an int of milliseconds, "
        f"not {type(value).__name__} {value!r}"
    )


def instant_ms(value: object, what: str) -> int:
    """An Instant as an int of milliseconds since the Unix epoch."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(
        f"{what} must be a datetime.datetime or an int of milliseconds since the epoch, "
        f"not {type(value).__name__} {value!r}"
    )


def camel_name(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _describe(value: object) -> str:
    """A value as an error message shows it: ``string "many"``, ``float 1.5``."""
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, timedelta):
        return f"timedelta {value}"
    return f"{type(value).__name__} {value!r}"


def _checked(name: str, spec: OptionSpec, value: object) -> Any:
    """The JSON value of an option, or InvalidConfiguration naming ``name``."""
    kind = spec.type
    want: Optional[str] = None
    if kind == "milliseconds":
        if isinstance(value, timedelta) or (isinstance(value, int) and not isinstance(value, bool)):
            return duration_ms(value, name)
        want = "a datetime.timedelta or an int of milliseconds"
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        want = "an integer"
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        want = "True or False"
    elif kind == "string":
        if isinstance(value, str):
            return value
        want = "a string"
    elif kind == "enum":
        if isinstance(value, str) and value.lower() in (v.lower() for v in spec.values):
            return value
        want = "one of " + ", ".join(spec.values)
    elif kind == "object":
        if isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return dict(value)
        want = "a mapping of str to str"
    else:  # a type this package does not know yet: the library checks it
        return dict(value) if isinstance(value, Mapping) else value
    raise _invalid(f'option "{name}" must be {want}, got {_describe(value)}')


def _invalid(message: str) -> PulsarProducerError:
    # Formatted as the library formats its own errors ("Name: message").
    return error_for(_native.ERR_INVALID_CONFIGURATION, f"InvalidConfiguration: {message}")


def options_json(
    options: Mapping[str, object], exclude: Iterable[str] = ()
) -> tuple[str, dict[str, str]]:
    """The options as the library's JSON object, and camelCase -> snake_case names.

    Raises InvalidConfiguration for an unknown name or a value of the wrong
    type. Options named in ``exclude`` are checked but left out of the JSON.
    """
    obj: dict[str, Any] = {}
    names: dict[str, str] = {}
    for name, value in options.items():
        spec = OPTIONS.get(name)
        if spec is None:
            if not _SNAKE.match(name):
                raise _invalid(
                    f'option "{name}" is unknown: options are the library\'s names in '
                    f"snake_case, such as batching_max_messages"
                )
            raise _invalid(f'option "{name}" is unknown')
        if value is None:
            continue
        checked = _checked(name, spec, value)
        if name not in exclude:
            names[spec.name] = name
            obj[spec.name] = checked
    try:
        text = json.dumps(obj, allow_nan=False)
    except (TypeError, ValueError) as exc:  # pragma: no cover - values are checked above
        raise error_for(
            _native.ERR_INVALID_CONFIGURATION, f"options cannot be encoded as JSON: {exc}"
        ) from exc
    return text, names


def snake_errors(message: str, names: Mapping[str, str]) -> str:
    """The library's message with each quoted camelCase option name in snake_case."""
    for camel, snake in names.items():
        message = message.replace(f'"{camel}"', f'"{snake}"')
    return message
