"""JSON the way KashFlow writes it: amounts as number literals with four decimal places.

KashFlow's .NET serialiser writes ``117.5000`` and ``1.0000``; clients that parse with
:class:`~decimal.Decimal` see exactly those digits. Encoding by hand, rather than through
:mod:`json`'s float path, keeps amounts out of binary floating point.
"""

from __future__ import annotations

import json
import typing as t
from decimal import ROUND_HALF_UP
from decimal import Decimal

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

#: The Content-Type of every JSON answer.
JSON_TYPE = "application/json; charset=utf-8"

_FOUR_DP = Decimal("0.0001")


def format_decimal(value: Decimal) -> str:
    """*value* with exactly four decimal places, as KashFlow writes amounts (``117.5000``)."""
    if not value.is_finite():
        raise ValueError(f"cannot serialise {value!r} as JSON")
    text = format(value.quantize(_FOUR_DP, rounding=ROUND_HALF_UP), "f")
    return "0.0000" if text == "-0.0000" else text


def encode_json(value: object) -> bytes:
    """Serialise *value* as compact UTF-8 JSON, writing Decimals as 4-dp number literals."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    elif isinstance(value, (int, float)):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, t.Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def json_response(
    status: int, payload: object, headers: t.Mapping[str, str] | None = None
) -> Response:
    """A JSON response with KashFlow's number format."""
    return Response(
        encode_json(payload), status=status, content_type=JSON_TYPE, headers=dict(headers or {})
    )


def error_response(status: int, error: str, message: str) -> Response:
    """KashFlow's error body, ``{"Error": ..., "Message": ...}``, with HTTP *status*."""
    return json_response(status, {"Error": error, "Message": message})


def json_body(request: Request) -> dict[str, t.Any] | None:
    """The request body as a JSON object, whatever the Content-Type says; None if it isn't."""
    try:
        value = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


__all__ = [
    "JSON_TYPE",
    "encode_json",
    "error_response",
    "format_decimal",
    "json_body",
    "json_response",
]
