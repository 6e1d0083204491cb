"""The wire error format (``{"error", "issues"?}``) and the one place errors become statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from characters.api.wire import TAG_PREFIX
from characters.errors import (
    CharactersError,
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    Unauthorized,
    Unavailable,
)

logger = logging.getLogger("characters.api")

STATUS: list[tuple[type[CharactersError], int]] = [
    (InvalidInput, 400),
    (Unauthorized, 401),
    (NotFound, 404),
    (Conflict, 409),
    (LimitExceeded, 429),
    (Unavailable, 503),
]

_CODES = {
    "missing": "invalid_type",
    "extra_forbidden": "unrecognized_keys",
    "string_too_short": "too_small",
    "too_short": "too_small",
    "greater_than": "too_small",
    "greater_than_equal": "too_small",
    "string_too_long": "too_big",
    "too_long": "too_big",
    "less_than": "too_big",
    "less_than_equal": "too_big",
    "literal_error": "invalid_enum_value",
    "enum": "invalid_enum_value",
    "union_tag_invalid": "invalid_union_discriminator",
    "union_tag_not_found": "invalid_union_discriminator",
    "string_pattern_mismatch": "invalid_string",
    "uuid_parsing": "invalid_string",
    "uuid_type": "invalid_string",
    "datetime_parsing": "invalid_string",
    "datetime_from_date_parsing": "invalid_string",
    "date_parsing": "invalid_string",
    "date_from_datetime_parsing": "invalid_string",
    "json_invalid": "invalid_json",
    "invalid_union_discriminator": "invalid_union_discriminator",
    "value_error": "custom",
}


def error_response(
    status: int,
    message: str,
    *,
    issues: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if issues is not None:
        body["issues"] = issues
    hdrs = dict(headers or {})
    if status == 409:
        hdrs["x-should-retry"] = "false"  # a final conflict; the SDKs would otherwise retry twice
    return JSONResponse(body, status_code=status, headers=hdrs)


def validation_issues(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors → zod-style issues (``code``, ``path``, ``message``) like Runway's."""
    issues = []
    for err in errors:
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        # Pydantic names the member of a tagged union in the location; the wire path does not.
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith(TAG_PREFIX))]
        kind = err.get("type", "")
        issue: dict[str, Any] = {
            "code": _CODES.get(kind, "invalid_type" if kind.endswith("_type") else "custom"),
            "path": loc,
            "message": _message(kind, err),
        }
        if kind == "extra_forbidden" and loc:
            issue["keys"] = [loc[-1]]
            issue["path"] = loc[:-1]
        issues.append(issue)
    return issues


def _message(kind: str, err: dict[str, Any]) -> str:
    if kind == "missing":
        return "Required"
    if kind == "extra_forbidden":
        return f"Unrecognized key: '{err['loc'][-1]}'"
    msg = str(err.get("msg", "Invalid value"))
    return msg.removeprefix("Value error, ")


def summarize(issues: list[dict[str, Any]]) -> str:
    parts = []
    for issue in issues[:3]:
        where = ".".join(str(p) for p in issue["path"]) or "body"
        parts.append(f"{where}: {issue['message']}")
    more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
    return "Invalid request: " + "; ".join(parts) + more + "."


def install(app: FastAPI) -> None:
    """Register handlers so every error leaves in the wire format, never as a traceback."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        issues = validation_issues(list(exc.errors()))
        return error_response(400, summarize(issues), issues=issues)

    @app.exception_handler(CharactersError)
    async def _domain(_req: Request, exc: CharactersError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "Not found: no such endpoint. Paths start with /v1/ (see /docs)."
        elif exc.status_code == 405:
            message = "Method not allowed on this endpoint."
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": req.url.path, "method": req.method})
        return error_response(500, "Internal server error. The server log has the details.")


def domain_error_response(exc: CharactersError) -> JSONResponse:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            headers = {}
            if isinstance(exc, LimitExceeded | Unavailable) and exc.retry_after_s is not None:
                headers["retry-after"] = str(max(1, round(exc.retry_after_s)))
            issues = None
            if isinstance(exc, InvalidInput) and exc.path:
                issues = [{"code": "custom", "path": exc.path, "message": exc.message}]
            return error_response(status, exc.message, issues=issues, headers=headers)
    return error_response(500, "Internal server error.")
