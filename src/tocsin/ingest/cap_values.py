"""CAP 1.2's single values and the XML reading every CAP document shares.

The grammar of the values the XSD constrains and the §3 rules it leaves out: times with a
numeric offset and no fraction (:func:`parse_cap_time`), closed polygons of four or more
points (:func:`parse_cap_polygon`), ``lat,lon radius`` circles (:func:`parse_cap_circle`),
and a polygon's centroid. Also the one error type (:class:`CapDecodeError`, naming the
element path) and defusedxml parsing with DTDs and entities refused. Used by the alert
reader (:mod:`.cap`, which re-exports the public names) and the feed reader
(:mod:`.cap_feed`); it knows nothing of alerts or feeds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import NoReturn
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from tocsin.errors import DecodeError, FieldError, PayloadTooLarge

__all__ = (
    "CAP_NAMESPACE",
    "CapDecodeError",
    "Point",
    "cap_error",
    "cap_fail",
    "cap_tag",
    "parse_cap_circle",
    "parse_cap_polygon",
    "parse_cap_time",
    "polygon_centroid",
    "read_xml",
)

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"

_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d):(\d\d)$")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_PAIR = re.compile(rf"^({_NUMBER}),({_NUMBER})$")
_CIRCLE = re.compile(rf"^({_NUMBER}),({_NUMBER})\s+({_NUMBER})$")

Point = tuple[float, float]


class CapDecodeError(DecodeError):
    """The bytes are not a CAP 1.2 alert (or a feed) that can be read.

    ``detail`` reads ``<path>: <problem>``; ``errors`` holds the same as one
    :class:`~tocsin.errors.FieldError` with ``path`` set, for the API's error body.
    """


def cap_error(path: str, message: str) -> CapDecodeError:
    """The error for ``path`` (``alert/info[1]/severity``), with the path in its field error."""
    return CapDecodeError(f"{path}: {message}", errors=[FieldError(message=message, path=path)])


def cap_fail(path: str, message: str) -> NoReturn:
    """Raise :func:`cap_error`."""
    raise cap_error(path, message)


def cap_tag(name: str, ns: str = CAP_NAMESPACE) -> str:
    return f"{{{ns}}}{name}"


def read_xml(body: bytes, max_bytes: int, what: str) -> Element:
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"{what} is {len(body)} bytes; the limit is {max_bytes}")
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        # DTDs are never needed by CAP, Atom or RSS; refusing them is what stops entity bombs.
        raise cap_error(what, f"DTDs and entities are not accepted ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise cap_error(what, f"not well-formed XML ({exc})") from exc
    except (LookupError, ValueError) as exc:  # unknown encoding declaration, bad bytes
        raise cap_error(what, f"unreadable XML ({exc})") from exc
    return root


def parse_cap_time(text: str, path: str = "time") -> datetime:
    """Read a CAP ``dateTime``: ``YYYY-MM-DDThh:mm:ss`` and a numeric offset, no fraction.

    Args:
        text: the element's text, surrounding whitespace allowed.
        path: where it came from, for the error message.

    Returns:
        An aware datetime (``-00:00`` and ``+00:00`` are UTC).

    Raises:
        CapDecodeError: a ``Z`` designator, fractional seconds, a missing offset or an
            impossible date.
    """
    value = text.strip()
    match = _TIME.match(value)
    if match is None:
        if value.endswith(("Z", "z")):
            cap_fail(path, f"{value!r} uses 'Z'; CAP times need a numeric offset (UTC is written -00:00)")
        if re.search(r":\d\d\.\d", value):
            cap_fail(path, f"{value!r} has fractional seconds, which CAP does not allow")
        cap_fail(path, f"{value!r} is not a CAP time (YYYY-MM-DDThh:mm:ss+hh:mm)")
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        zone = timezone(-offset if sign == "-" else offset)
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except ValueError as exc:
        raise cap_error(path, f"{value!r} is not a real time ({exc})") from exc


def _coordinate(lat_text: str, lon_text: str, path: str) -> Point:
    lat, lon = float(lat_text), float(lon_text)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        cap_fail(path, f"{lat_text},{lon_text} is outside WGS 84 range (lat ±90, lon ±180)")
    return lat, lon


def parse_cap_polygon(text: str, path: str = "polygon") -> list[Point]:
    """Read a CAP polygon: whitespace-separated ``lat,lon`` pairs, ≥ 4, first == last.

    Args:
        text: the element's text.
        path: where it came from, for the error message.

    Returns:
        The points as ``(lat, lon)``, the closing point included.

    Raises:
        CapDecodeError: a pair that is not two decimals, a point out of range, fewer
            than four points, or a first point that differs from the last.
    """
    points: list[Point] = []
    for token in text.split():
        match = _PAIR.match(token)
        if match is None:
            cap_fail(path, f"{token[:40]!r} is not a 'lat,lon' pair")
        points.append(_coordinate(match[1], match[2], path))
    if len(points) < 4:
        cap_fail(path, f"polygon has {len(points)} points; CAP needs at least 4, the first repeated as the last")
    if points[0] != points[-1]:
        first, last = points[0], points[-1]
        cap_fail(
            path, f"polygon is not closed: first point {first[0]},{first[1]} differs from last {last[0]},{last[1]}"
        )
    return points


def parse_cap_circle(text: str, path: str = "circle") -> tuple[float, float, float]:
    """Read a CAP circle: ``lat,lon radius`` with the radius in kilometres.

    Args:
        text: the element's text.
        path: where it came from, for the error message.

    Returns:
        ``(lat, lon, radius_km)``.

    Raises:
        CapDecodeError: not that shape, a point out of range or a negative radius.
    """
    match = _CIRCLE.match(text.strip())
    if match is None:
        cap_fail(path, f"{text.strip()[:60]!r} is not a CAP circle ('lat,lon radius_km')")
    lat, lon = _coordinate(match[1], match[2], path)
    radius = float(match[3])
    if radius < 0:
        cap_fail(path, f"radius {match[3]} is negative")
    return lat, lon, radius


def polygon_centroid(points: Sequence[Point]) -> Point:
    """Area centroid of a closed ``(lat, lon)`` ring, computed in the plane of degrees.

    Good for the size of warning areas; a ring crossing the antimeridian is unwrapped
    first. A degenerate ring (no area) gives the mean of its vertices.
    """
    ring = list(points[:-1]) if len(points) > 1 and points[0] == points[-1] else list(points)
    lons = [lon for _, lon in ring]
    wrap = max(lons) - min(lons) > 180.0
    unwrapped = [lon + 360.0 if wrap and lon < 0 else lon for lon in lons]
    # Relative to the first vertex, so the cross products do not cancel in floating point.
    x0, y0 = unwrapped[0], ring[0][0]
    xs = [x - x0 for x in unwrapped]
    ys = [lat - y0 for lat, _ in ring]
    area2 = cx = cy = 0.0
    for i in range(len(ring)):
        j = (i + 1) % len(ring)
        cross = xs[i] * ys[j] - xs[j] * ys[i]
        area2 += cross
        cx += (xs[i] + xs[j]) * cross
        cy += (ys[i] + ys[j]) * cross
    if abs(area2) < 1e-14:
        lat, lon = y0 + sum(ys) / len(ys), x0 + sum(xs) / len(xs)
    else:
        lat, lon = y0 + cy / (3.0 * area2), x0 + cx / (3.0 * area2)
    if lon > 180.0:
        lon -= 360.0
    return max(-90.0, min(90.0, lat)), max(-180.0, min(180.0, lon))
