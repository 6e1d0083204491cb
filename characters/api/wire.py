"""Building blocks of the wire schemas: strict models, tagged unions, ids, dates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
)

UUID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
TAG_PREFIX = "tag:"

Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
"""A UUID v4 string, as Runway's ids are (kept as str: the wire shows it as given)."""


class Request(BaseModel):
    """A request body: unknown fields are rejected, as Runway does."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """Reject NUL characters, which PostgreSQL text columns cannot store."""
        if _has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False  # nested models check their own fields


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _type_of(value: Any) -> str | None:
    if isinstance(value, dict):
        t = value.get("type")
    else:
        t = getattr(value, "type", None)
    return f"{TAG_PREFIX}{t}" if isinstance(t, str) else None


def tag(type_value: str) -> Tag:
    """Marks one member of a union discriminated on its ``type`` field:
    ``Annotated[Model, tag("custom")]``."""
    return Tag(f"{TAG_PREFIX}{type_value}")


TypeDiscriminator = Discriminator(
    _type_of,
    custom_error_type="invalid_union_discriminator",
    custom_error_message="Invalid or missing 'type'",
)

Limit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


def ok(content: Any) -> JSONResponse:
    """Send ``content`` exactly as built (the route's response_model documents it)."""
    return JSONResponse(content)
