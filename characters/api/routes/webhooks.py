"""Extension: the organisation's webhooks (``/v1/organization/webhooks``) and the record of
session webhook deliveries (``/v1/organization/webhook_deliveries``). See docs/actions.md."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints
from sqlalchemy import select

from characters.api import wire
from characters.api.deps import PrincipalDep, ServicesDep
from characters.api.pagination import keyset, page
from characters.api.wire import ok
from characters.errors import NotFound
from characters.store.tables import Organization, WebhookDelivery
from characters.timeutil import iso, iso_opt
from characters.webhooks.config import UNCHANGED, config_wire, update_config

router = APIRouter(prefix="/v1", tags=["webhooks"])

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class WebhooksOut(wire.Response):
    url: str | None = Field(description="Where session lifecycle events are POSTed.")
    backendRpcUrl: str | None = Field(
        description="Where backend_rpc tool calls are POSTed (an avatar's own overrides it)."
    )
    secret: str | None = Field(description="Signs both (Standard Webhooks, whsec_...).")
    events: list[str]


class WebhooksUpdate(wire.Request):
    url: Url | None = Field(None, description="https:// URL for session events; null removes it.")
    backendRpcUrl: Url | None = Field(
        None, description="https:// URL for backend_rpc tool calls; null removes it."
    )
    rotateSecret: bool = Field(False, description="Replace the signing secret with a new one.")


class DeliveryOut(wire.Response):
    id: str
    event: str
    sessionId: str | None
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    responseStatus: int | None
    lastError: str | None
    createdAt: str
    lastAttemptAt: str | None
    nextAttemptAt: str | None
    deliveredAt: str | None
    payload: dict[str, Any] | None


class DeliveryPage(wire.Response):
    data: list[DeliveryOut]
    hasMore: bool
    nextCursor: str | None


@router.get(
    "/organization/webhooks",
    response_model=WebhooksOut,
    summary="The organisation's webhook URLs and signing secret (extension)",
)
async def get_webhooks(services: ServicesDep, principal: PrincipalDep) -> JSONResponse:
    async with services.db.transaction() as db:
        org = await db.get(Organization, principal.organization_id)
        if org is None:
            raise NotFound("Organisation not found.")
        return ok(config_wire(org))


@router.put(
    "/organization/webhooks",
    response_model=WebhooksOut,
    summary="Set the organisation's webhook URLs, or rotate the secret (extension)",
)
async def put_webhooks(
    body: WebhooksUpdate, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    fields = body.model_fields_set
    async with services.db.transaction() as db:
        org = await update_config(
            db,
            principal.organization_id,
            url=body.url if "url" in fields else UNCHANGED,
            backend_rpc_url=body.backendRpcUrl if "backendRpcUrl" in fields else UNCHANGED,
            rotate_secret=body.rotateSecret,
            allow_http_loopback=services.settings.webhook_allow_http_loopback,
        )
        return ok(config_wire(org))


def delivery_wire(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "event": d.event,
        "sessionId": d.session_id,
        "url": d.url,
        "status": d.status,
        "attempts": d.attempts,
        "responseStatus": d.response_status,
        "lastError": d.last_error,
        "createdAt": iso(d.created_at),
        "lastAttemptAt": iso_opt(d.last_attempt_at),
        "nextAttemptAt": iso(d.next_attempt_at) if d.status == "pending" else None,
        "deliveredAt": iso_opt(d.delivered_at),
        "payload": d.payload,
    }


@router.get(
    "/organization/webhook_deliveries",
    response_model=DeliveryPage,
    summary="Session webhook deliveries, newest first (extension)",
)
async def list_deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: wire.Limit = 20,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
    sessionId: uuid.UUID | None = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
) -> JSONResponse:
    query = select(WebhookDelivery).where(
        WebhookDelivery.organization_id == principal.organization_id
    )
    if sessionId is not None:
        query = query.where(WebhookDelivery.session_id == str(sessionId))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    async with services.db.transaction() as db:
        rows = (
            await db.scalars(
                keyset(
                    query,
                    WebhookDelivery.created_at,
                    WebhookDelivery.id,
                    cursor=cursor,
                    limit=limit,
                )
            )
        ).all()
    data = [delivery_wire(d) for d in rows[:limit]]
    return ok(page(rows, limit, lambda d: (d.created_at, d.id), data))
