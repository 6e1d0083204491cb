"""``/v1/organization``: tier, credit balance, today's usage, and credit usage by day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from characters.api import wire
from characters.api.deps import PrincipalDep, ServicesDep
from characters.api.wire import ok
from characters.config import TIERS
from characters.errors import InvalidInput, NotFound
from characters.sessions.manager import MODEL
from characters.store.tables import CreditCharge, Organization, RealtimeSession
from characters.timeutil import as_utc, utcnow

router = APIRouter(prefix="/v1", tags=["organization"])


class ModelLimits(wire.Response):
    maxConcurrentGenerations: int
    maxDailyGenerations: int


class TierOut(wire.Response):
    maxMonthlyCreditSpend: int
    models: dict[str, ModelLimits]


class ModelUsage(wire.Response):
    dailyGenerations: int


class UsageModels(wire.Response):
    models: dict[str, ModelUsage]


class OrganizationOut(wire.Response):
    creditBalance: int
    tier: TierOut
    usage: UsageModels


class UsageQuery(wire.Request):
    startDate: date | None = None
    beforeDate: date | None = None


class CreditUse(wire.Response):
    model: str
    amount: int


class DayUsage(wire.Response):
    date: str
    usedCredits: list[CreditUse]


class ByKey(wire.Response):
    apiKeyId: str
    amount: int


class DayUsageByKey(wire.Response):
    date: str
    usedCredits: list[ByKey]


class UsageReport(wire.Response):
    results: list[DayUsage]
    models: list[str]
    apiKeys: list[str]
    resultsByApiKey: list[DayUsageByKey]


@router.get(
    "/organization", response_model=OrganizationOut, summary="Organisation tier, credits, usage"
)
async def get_organization(services: ServicesDep, principal: PrincipalDep) -> JSONResponse:
    day_start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    async with services.db.transaction() as db:
        org = await db.get(Organization, principal.organization_id)
        if org is None:
            raise NotFound("Organisation not found.")
        today = await db.scalar(
            select(func.count()).where(
                RealtimeSession.organization_id == org.id, RealtimeSession.created_at >= day_start
            )
        )
    tier = TIERS[org.tier]
    return ok(
        {
            "creditBalance": max(org.credit_balance, 0),
            "tier": {
                "maxMonthlyCreditSpend": tier.max_monthly_credit_spend,
                "models": {
                    MODEL: {
                        "maxConcurrentGenerations": tier.max_concurrent_sessions,
                        "maxDailyGenerations": tier.max_daily_sessions,
                    }
                },
            },
            "usage": {"models": {MODEL: {"dailyGenerations": int(today or 0)}}},
        }
    )


@router.post("/organization/usage", response_model=UsageReport, summary="Credit usage by day")
async def organization_usage(
    services: ServicesDep, principal: PrincipalDep, body: UsageQuery | None = None
) -> JSONResponse:
    body = body or UsageQuery()
    start = body.startDate or (utcnow().date() - timedelta(days=30))
    if body.beforeDate is None and start > date.max - timedelta(days=30):
        raise InvalidInput(
            "startDate is too late for the default range; give beforeDate.", ["startDate"]
        )
    before = body.beforeDate or (start + timedelta(days=30))
    if before <= start:
        raise InvalidInput("beforeDate must be after startDate.", ["beforeDate"])
    if (before - start).days > 90:
        raise InvalidInput("The date range may span at most 90 days.", ["beforeDate"])
    lo = datetime.combine(start, datetime.min.time(), UTC)
    hi = datetime.combine(before, datetime.min.time(), UTC)
    async with services.db.transaction() as db:
        rows = (
            await db.execute(
                select(
                    CreditCharge.at,
                    CreditCharge.model,
                    CreditCharge.api_key_id,
                    CreditCharge.amount,
                ).where(
                    CreditCharge.organization_id == principal.organization_id,
                    CreditCharge.at >= lo,
                    CreditCharge.at < hi,
                )
            )
        ).all()
    by_model: dict[str, dict[str, int]] = {}
    by_key: dict[str, dict[str, int]] = {}
    for at, model, key_id, amount in rows:
        day = as_utc(at).date().isoformat()
        by_model.setdefault(day, {}).setdefault(model, 0)
        by_model[day][model] += amount
        if key_id:
            by_key.setdefault(day, {}).setdefault(key_id, 0)
            by_key[day][key_id] += amount
    return ok(
        {
            "results": [
                {
                    "date": d,
                    "usedCredits": [{"model": m, "amount": a} for m, a in sorted(v.items())],
                }
                for d, v in sorted(by_model.items())
            ],
            "models": sorted({m for v in by_model.values() for m in v}),
            "apiKeys": sorted({k for v in by_key.values() for k in v}),
            "resultsByApiKey": [
                {
                    "date": d,
                    "usedCredits": [{"apiKeyId": k, "amount": a} for k, a in sorted(v.items())],
                }
                for d, v in sorted(by_key.items())
            ],
        }
    )
