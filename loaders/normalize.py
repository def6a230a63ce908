"""Identifier normalization: the canonical keys every interface uses (contract: inputs.md).

Each ``normalize_*`` function takes one raw value and returns its canonical form or raises
:class:`InvalidValue` carrying the contract's quarantine reason code. Loaders apply them to the
*distinct* raw values of a column (identifiers repeat heavily in call and sighting records),
so their per-call cost matters less than their exactness.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

from queries.model import VOCABULARY, Vocabulary

# The quarantine reason codes of the contract.
MISSING_FIELD = "MISSING_FIELD"
BAD_ID_NO = "BAD_ID_NO"
BAD_PHONE = "BAD_PHONE"
BAD_PLATE = "BAD_PLATE"
BAD_TIMESTAMP = "BAD_TIMESTAMP"
BAD_COORDINATE = "BAD_COORDINATE"
BAD_NUMBER = "BAD_NUMBER"
UNKNOWN_VALUE = "UNKNOWN_VALUE"
REASONS = (MISSING_FIELD, BAD_ID_NO, BAD_PHONE, BAD_PLATE, BAD_TIMESTAMP, BAD_COORDINATE,
           BAD_NUMBER, UNKNOWN_VALUE)


class InvalidValue(ValueError):
    """A raw value that cannot be normalized; ``reason`` is a quarantine reason code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space fold to their half-width forms.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Fold full-width ASCII forms and the ideographic space to half-width."""
    return text.translate(_FULLWIDTH)


# -- resident ID numbers (GB 11643-1999) ---------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_no(raw: str) -> str:
    """Canonical 18-character resident ID: upper-case ``X``, check digit verified.

    15-digit legacy numbers are upgraded: ``19`` inserted before the two-digit birth year and
    the check digit computed.

    >>> normalize_id_no("110105491231002")
    '11010519491231002X'
    """
    text = fold_width(str(raw)).strip().upper()
    if len(text) == 15 and text.isdigit() and text.isascii():
        body = text[:6] + "19" + text[6:]
        return body + id_check_digit(body)
    if len(text) != 18 or not (text[:17].isdigit() and text[:17].isascii()):
        raise InvalidValue(BAD_ID_NO, f"not an 18-digit or 15-digit ID number: {raw!r}")
    if text[17] != id_check_digit(text[:17]):
        raise InvalidValue(BAD_ID_NO, f"check digit does not hold (GB 11643): {raw!r}")
    return text


# -- phones --------------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 18)
def normalize_phone(raw: str, default_country: str = "CN") -> str:
    """E.164 form of a phone number, or InvalidValue(BAD_PHONE).

    Accepts separators, ``+86`` / ``0086`` prefixes, and a bare country code (``86138…``)
    when the number is not valid as a national one.
    """
    text = fold_width(str(raw)).strip()
    if not text:
        raise InvalidValue(MISSING_FIELD, "empty phone number")
    if ";" in text:  # phonenumbers reads the rest as RFC 3966 parameters and drops it
        raise InvalidValue(BAD_PHONE, f"more than one phone number, or parameters: {raw!r}")
    candidates = [text]
    digits = re.sub(r"\D", "", text)
    # A bare country code ("8613812345678") is read as international only when it is the
    # default country's own code: "12125551234" must not become a US number.
    own_code = str(phonenumbers.country_code_for_region(default_country))
    if not text.startswith("+") and digits.startswith(own_code):
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, default_country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidValue(BAD_PHONE, f"not a valid phone number: {raw!r}")


# -- plates --------------------------------------------------------------------------------------
_PLATE_DROP = re.compile(r"[\s·・‧.\-]")
_PLATE_OK = re.compile(r"[0-9A-Z\u3400-\u4dbf\u4e00-\u9fff]+")


def normalize_plate(raw: str) -> str:
    """Upper-case, half-width plate without separators (``浙d·12345`` -> ``浙D12345``)."""
    text = _PLATE_DROP.sub("", fold_width(str(raw))).upper()
    if not text or len(text) > 10 or not _PLATE_OK.fullmatch(text):
        raise InvalidValue(BAD_PLATE, f"not a plate (CJK, Latin letters, digits; 1-10): {raw!r}")
    return text


# -- the simple keys -----------------------------------------------------------------------------
def normalize_case_id(raw: str) -> str:
    """Case number as given, trimmed."""
    return _required(str(raw).strip(), "case_id")


def normalize_waybill_no(raw: str) -> str:
    """Waybill number, trimmed and upper-cased."""
    return _required(str(raw).strip().upper(), "waybill_no")


def normalize_sensor_id(raw: str) -> str:
    """Sensor id as given, trimmed."""
    return _required(str(raw).strip(), "sensor_id")


_SPACES = re.compile(r"\s+")


def normalize_address(raw: str) -> str:
    """Address text: full-width folded, whitespace collapsed, trimmed."""
    return _required(_SPACES.sub(" ", fold_width(str(raw))).strip(), "address")


def _required(value: str, column: str) -> str:
    if not value:
        raise InvalidValue(MISSING_FIELD, f"{column} is empty")
    return value


# -- timestamps ----------------------------------------------------------------------------------
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_THRESHOLD = 10**11  # larger epoch values are milliseconds (year 5138 in seconds)
# Instants a record may carry: outside them a value is a filler (0001-01-01, the .NET and Go
# zero time) or a number read as an epoch that was not one (20240101120000 -> year 2611).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_timestamp(
    raw: object, timezone: str = "Asia/Shanghai", timestamp_format: str | None = None
) -> datetime:
    """An aware UTC datetime from any accepted timestamp form, or InvalidValue(BAD_TIMESTAMP).

    Accepted: ISO 8601 with or without offset, ``YYYY-MM-DD HH:MM:SS``, ``YYYY/MM/DD HH:MM:SS``,
    ``timestamp_format`` (strptime), and epoch seconds or milliseconds for numeric values.
    Values without an offset are local time in ``timezone``.
    """
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
        seconds = value / 1000 if abs(value) >= _MS_THRESHOLD else value
        return _plausible(_EPOCH + timedelta(seconds=seconds), raw)
    else:
        parsed = _parse_text(str(raw).strip(), timestamp_format)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(timezone))
    try:
        return _plausible(parsed.astimezone(UTC), raw)
    except OverflowError:   # e.g. 0001-01-01 00:00 at +08:00 lies before year 1 in UTC
        raise InvalidValue(BAD_TIMESTAMP, f"not a timestamp: {raw!r}") from None


def _plausible(moment: datetime, raw: object) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise InvalidValue(BAD_TIMESTAMP, f"{raw!r} is not a time between "
                                          f"{EARLIEST.year} and {LATEST.year - 1}")
    return moment


def _parse_text(text: str, timestamp_format: str | None) -> datetime:
    if not text:
        raise InvalidValue(MISSING_FIELD, "empty timestamp")
    if timestamp_format:
        try:
            return datetime.strptime(text, timestamp_format)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text.replace("/", "-", 2) if text[4:5] == "/" else text)
    except ValueError:
        raise InvalidValue(BAD_TIMESTAMP, f"not a timestamp: {text!r}") from None


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with offset, as Fusion stores and returns timestamps."""
    return value.astimezone(UTC).isoformat()


# -- entity references ---------------------------------------------------------------------------
Normalizer = Callable[[str], str]


def kind_normalizers(vocabulary: Vocabulary) -> dict[str, Normalizer]:
    """Entity kind -> its normalizer, the function of this module the vocabulary names."""
    named = {name: fn for name, fn in globals().items() if name.startswith("normalize_")}
    unknown = sorted({k.normalizer for k in vocabulary.entities} - set(named))
    if unknown:
        raise LookupError(f"no normalizer {', '.join(unknown)} in loaders.normalize")
    return {k.name: named[k.normalizer] for k in vocabulary.entities}


_KIND_NORMALIZERS = kind_normalizers(VOCABULARY)


def canonical_key(kind: str, raw: str) -> str:
    """The canonical key of an entity of ``kind`` (``PERSON``, ``PHONE`` …) in any raw form."""
    try:
        normalizer = _KIND_NORMALIZERS[kind]
    except KeyError:
        raise InvalidValue(UNKNOWN_VALUE, f"unknown entity kind: {kind!r}") from None
    return normalizer(raw)
