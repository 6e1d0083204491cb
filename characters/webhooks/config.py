"""An organisation's webhooks: the session events URL, the backend RPC URL and the secret that
signs both (read and changed by ``PUT /v1/organization/webhooks`` and ``characters orgs
webhooks``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from characters.errors import NotFound
from characters.store.tables import Organization
from characters.webhooks.client import check_url
from characters.webhooks.sessions import EVENTS
from characters.webhooks.signing import new_secret

UNCHANGED: Any = object()


def config_wire(org: Organization) -> dict[str, Any]:
    """The organisation's webhook settings as the API shows them (the secret included: the
    caller holds the organisation's API key, and needs the secret to verify)."""
    return {
        "url": org.webhook_url,
        "backendRpcUrl": org.backend_rpc_url,
        "secret": org.webhook_secret,
        "events": sorted(EVENTS.values()),
    }


async def update_config(
    db: AsyncSession,
    organization_id: str,
    *,
    url: str | None = UNCHANGED,
    backend_rpc_url: str | None = UNCHANGED,
    rotate_secret: bool = False,
    allow_http_loopback: bool = False,
) -> Organization:
    """Change the organisation's webhook URLs (None removes one) and, when asked, its secret.
    A secret is made with the first URL. URLs are checked (``https://``; see
    :func:`~characters.webhooks.client.check_url`)."""
    org = await db.get(Organization, organization_id, with_for_update=True)
    if org is None:
        raise NotFound(f"Organisation {organization_id} not found.")
    if url is not UNCHANGED:
        org.webhook_url = (
            check_url(url, allow_http_loopback=allow_http_loopback, field="url") if url else None
        )
    if backend_rpc_url is not UNCHANGED:
        org.backend_rpc_url = (
            check_url(
                backend_rpc_url, allow_http_loopback=allow_http_loopback, field="backendRpcUrl"
            )
            if backend_rpc_url
            else None
        )
    if rotate_secret or org.webhook_secret is None:
        org.webhook_secret = new_secret()
    return org


async def ensure_secret(db: AsyncSession, organization_id: str) -> None:
    """Give the organisation a signing secret if it has none (an avatar's backend RPC URL is
    signed with it)."""
    org = await db.get(Organization, organization_id, with_for_update=True)
    if org is not None and org.webhook_secret is None:
        org.webhook_secret = new_secret()
