"""Checking request bodies and query parameters against the schemas the OpenAPI document
publishes (the subset of JSON Schema they use), collecting every error per field."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from marketplace.api.schemas import Schema

Errors = dict[str, list[str]]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_INTEGER = re.compile(r"[+-]?\d{1,12}")
_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


class RequestInvalid(Exception):
    """The request does not follow the document (HTTP 400), with the errors per field."""

    def __init__(self, errors: Errors, detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail)
        self.errors = errors
        self.detail = detail


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported type {kind!r}")


def _format_error(value: str, fmt: str) -> str | None:
    if fmt == "date":
        if _DATE.fullmatch(value):
            try:
                date.fromisoformat(value)
                return None
            except ValueError:
                pass
        return "Use a date as YYYY-MM-DD."
    if fmt == "date-time":
        if _DATE_TIME.fullmatch(value):
            try:
                datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
                return None
            except ValueError:
                pass
        return "Use a date and time with a time zone, e.g. 2026-11-30T09:30:00+07:00."
    return None


def _check_string(value: str, schema: Schema) -> list[str]:
    errors = []
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ["Use valid Unicode text."]
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"Use at least {schema['minLength']} characters.")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"Use at most {schema['maxLength']} characters.")
    # JSON Schema patterns are ECMA-262, where "$" is the very end of the text.
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern.replace("$", r"\Z"), value):
        if "\x00" in value:
            errors.append("Text may not contain NUL characters.")
        elif not value.strip():
            errors.append("This field is required.")
        else:
            errors.append("The value has the wrong form.")
    if "format" in schema:
        message = _format_error(value, schema["format"])
        if message:
            errors.append(message)
    return errors


def validate(value: Any, schema: Schema, path: str = "") -> Errors:
    """Every way `value` breaks `schema`, keyed by the dotted path of the field."""
    errors: Errors = {}

    def add(message: str, at: str = path) -> None:
        errors.setdefault(at or "body", []).append(message)

    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(value, kind) for kind in kinds):
            add(f"Must be {' or '.join(_TYPE_NAMES[k] for k in kinds)}.")
            return errors
    if "enum" in schema and value not in schema["enum"]:
        add(f"Must be one of: {', '.join(map(str, schema['enum']))}.")
        return errors
    if isinstance(value, str):
        for message in _check_string(value, schema):
            add(message)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            add(f"Must be at least {schema['minimum']}.")
        if "maximum" in schema and value > schema["maximum"]:
            add(f"Must be at most {schema['maximum']}.")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            add(f"Give at least {schema['minItems']} item(s).")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            add(f"Give at most {schema['maxItems']} items.")
        elif "items" in schema:
            for index, item in enumerate(value):
                errors.update(validate(item, schema["items"], _join(path, str(index))))
    elif isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                add("This field is required.", _join(path, name))
        for name, item in value.items():
            if name in schema.get("properties", {}):
                errors.update(validate(item, schema["properties"][name], _join(path, name)))
            elif schema.get("additionalProperties") is False:
                add("Unknown field.", _join(path, name))
    return errors


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_body(body: Any, schema: Schema) -> dict[str, Any]:
    """The body as a dict, or RequestInvalid; integral floats (2.0) become ints."""
    errors = validate(body, schema)
    if errors:
        raise RequestInvalid(errors)
    return _normalise(body)


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    return value


def check_query(args: MultiDict[str, str], parameters: dict[str, Schema]) -> dict[str, Any]:
    """Known query parameters converted to their types, defaults filled in; others ignored."""
    values: dict[str, Any] = {}
    errors: Errors = {}
    for name, schema in parameters.items():
        raw_values = args.getlist(name)
        if not raw_values:
            values[name] = schema.get("default")
            continue
        if len(raw_values) > 1:
            errors[name] = ["Give this parameter once."]
            continue
        raw = raw_values[0]
        value: Any = raw
        if schema.get("type") == "integer":
            if not _INTEGER.fullmatch(raw):
                errors[name] = ["Must be an integer."]
                continue
            value = int(raw)
        found = validate(value, schema, name)
        if found:
            errors.update(found)
        else:
            values[name] = value
    if errors:
        raise RequestInvalid(errors, "The query has invalid parameters.")
    return values
