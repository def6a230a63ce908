"""Mapping profiles: the YAML that maps a messy source layout onto a canonical source.

See the contract (inputs.md, "Mapping profiles"). A profile is data, validated here once, and
hashed so that a load's identity changes when its profile does.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loaders.errors import ProfileError
from queries.model import SOURCE_KINDS

KINDS = SOURCE_KINDS


class Profile(BaseModel):
    """One source layout; the defaults describe a canonical UTF-8 file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = Field(default=None, description="|".join(KINDS))
    encoding: str = Field(default="utf-8", description="Any codec Python knows (CSV only).")
    delimiter: str = Field(default=",", description="CSV field delimiter, one character.")
    timezone: str = Field(default="Asia/Shanghai", description="Zone of offset-less timestamps.")
    timestamp_format: str | None = Field(default=None, description="strptime syntax, tried first.")
    default_country: str = Field(default="CN", description="Region of phones without +CC.")
    columns: dict[str, str] = Field(default_factory=dict, description="source -> canonical")
    constants: dict[str, str] = Field(default_factory=dict, description="canonical -> value")

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"must be one of {', '.join(KINDS)}, not {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"must be one character, not {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"not a phone region code: {value!r}")
        return value

    @field_validator("columns", "constants", mode="before")
    @classmethod
    def _strings(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).strip(): "" if v is None else str(v).strip() for k, v in value.items()}
        return value


DEFAULT_PROFILE = Profile()


def load_profile(path: Path) -> tuple[Profile, str]:
    """Read and validate a profile file; return it with the sha256 of its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: not a UTF-8 YAML file ({exc})") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a YAML mapping at the top level")
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors()
        )
        raise ProfileError(f"{path}: invalid profile: {problems}") from None
    return profile, hashlib.sha256(data).hexdigest()


def check_profile_for(profile: Profile, source: str, canonical: tuple[str, ...],
                      where: str) -> None:
    """Fail when the profile names another source or maps onto a column the source lacks."""
    if profile.source is not None and profile.source != source:
        raise ProfileError(f"{where}: the profile is for {profile.source!r}, not {source!r}")
    targets = list(profile.columns.values())
    for target in [*targets, *profile.constants]:
        if target not in canonical:
            raise ProfileError(
                f"{where}: {target!r} is not a column of {source} "
                f"(expected one of {', '.join(canonical)})"
            )
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise ProfileError(f"{where}: several source columns map onto {', '.join(doubled)}")
    both = sorted(set(targets) & set(profile.constants))
    if both:
        raise ProfileError(f"{where}: {', '.join(both)} is both mapped from a source column "
                           "and set as a constant (the constant would replace the file's "
                           "values); keep one")
