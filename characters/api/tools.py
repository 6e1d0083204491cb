"""Tools in Runway's shapes (``POST /v1/realtime_sessions`` ``tools``; also on avatars, an
extension): ``client_event`` and ``backend_rpc`` with typed parameters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from characters.api import wire

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
]
Description = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Param(wire.Request):
    name: Name
    description: Description
    required: bool = True


class StringParam(_Param):
    type: Literal["string"]
    enum: (
        Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=20)]
        | None
    ) = None


class IntegerParam(_Param):
    type: Literal["integer"]


class NumberParam(_Param):
    type: Literal["number"]


class BooleanParam(_Param):
    type: Literal["boolean"]


class ArrayItems(wire.Request):
    type: Literal["string", "integer", "number", "boolean"]


class ArrayParam(_Param):
    type: Literal["array"]
    items: ArrayItems


class ObjectParam(_Param):
    type: Literal["object"]
    properties: Annotated[list[Parameter], Field(max_length=20)]


Parameter = Annotated[
    Annotated[StringParam, wire.tag("string")]
    | Annotated[IntegerParam, wire.tag("integer")]
    | Annotated[NumberParam, wire.tag("number")]
    | Annotated[BooleanParam, wire.tag("boolean")]
    | Annotated[ArrayParam, wire.tag("array")]
    | Annotated[ObjectParam, wire.tag("object")],
    wire.TypeDiscriminator,
]
ObjectParam.model_rebuild()


class _Tool(wire.Request):
    name: Name
    description: Description
    parameters: Annotated[list[Parameter], Field(max_length=20)] = []


class ClientEventTool(_Tool):
    type: Literal["client_event"]


class BackendRpcTool(_Tool):
    type: Literal["backend_rpc"]
    timeoutSeconds: Annotated[float, Field(ge=1, le=8)] = 4


Tool = Annotated[
    Annotated[ClientEventTool, wire.tag("client_event")]
    | Annotated[BackendRpcTool, wire.tag("backend_rpc")],
    wire.TypeDiscriminator,
]

Tools = Annotated[list[Tool], Field(max_length=20)]


def unique_tool_names(tools: list[ClientEventTool | BackendRpcTool]) -> None:
    """Raise ValueError (a 400) when two tools share a name."""
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"tool names must be unique within a session: {', '.join(dupes)}")
