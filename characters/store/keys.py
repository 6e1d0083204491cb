"""Organisations and their API keys. Keys are shown once and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.errors import NotFound, Unauthorized
from characters.store.tables import ApiKey, Organization
from characters.timeutil import utcnow

KEY_PATTERN = re.compile(r"^key_[0-9a-f]{128}$")


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_api_key() -> str:
    """``key_`` + 128 lowercase hex characters, like Runway's keys."""
    return "key_" + secrets.token_hex(64)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the organisation and the key used."""

    organization_id: str
    api_key_id: str


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: str
    row: ApiKey
    organization: Organization


async def create_organization(
    db: AsyncSession, *, name: str, tier: int, credits: int
) -> Organization:
    org = Organization(
        id=str(uuid.uuid4()), name=name, tier=tier, credit_balance=credits, created_at=utcnow()
    )
    db.add(org)
    await db.flush()
    return org


async def create_key(
    db: AsyncSession,
    *,
    name: str,
    tier: int,
    credits: int,
    organization_id: str | None = None,
) -> CreatedKey:
    """Create a key, in a new organisation (named after the key) unless one is given."""
    if organization_id is None:
        org = await create_organization(db, name=name, tier=tier, credits=credits)
    else:
        found = await db.get(Organization, organization_id)
        if found is None:
            raise NotFound(f"no organisation with id {organization_id}")
        org = found
    key = new_api_key()
    row = ApiKey(
        id=str(uuid.uuid4()),
        organization_id=org.id,
        name=name,
        key_hash=hash_secret(key),
        key_prefix=key[:12],
        created_at=utcnow(),
    )
    db.add(row)
    await db.flush()
    return CreatedKey(key=key, row=row, organization=org)


async def list_keys(db: AsyncSession) -> list[tuple[ApiKey, Organization]]:
    rows = await db.execute(
        select(ApiKey, Organization)
        .join(Organization, Organization.id == ApiKey.organization_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return [(k, o) for k, o in rows]


async def revoke_key(db: AsyncSession, key_id: str) -> ApiKey:
    row = await db.get(ApiKey, key_id)
    if row is None:
        matches = (
            await db.scalars(select(ApiKey).where(ApiKey.key_prefix.startswith(key_id)))
        ).all()
        if len(matches) != 1:
            raise NotFound(f"no API key with id {key_id}")
        row = matches[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


async def authenticate(db: AsyncSession, authorization: str | None) -> Principal:
    """Resolve an ``Authorization: Bearer key_…`` header to the caller."""
    if not authorization:
        raise Unauthorized(
            "Missing API key. Send it as 'Authorization: Bearer <key>' "
            "(create one with `characters keys create --name NAME`)."
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Malformed Authorization header. Expected 'Bearer <key>'.")
    if not KEY_PATTERN.match(token):
        raise Unauthorized("Invalid API key: keys look like 'key_' followed by 128 hex characters.")
    row = await db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(token)))
    if row is None:
        raise Unauthorized("Invalid API key.")
    if row.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    return Principal(organization_id=row.organization_id, api_key_id=row.id)
