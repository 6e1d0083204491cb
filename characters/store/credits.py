"""Pricing and debiting credits: one rule for sessions and avatar videos."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from characters.store.tables import CreditCharge, Organization


def credits_for(seconds: float, unit_s: int, per_unit: int, *, at_least_one: bool = False) -> int:
    """``per_unit`` credits per started ``unit_s`` seconds (Runway: 2 per 6 s)."""
    units = math.ceil(seconds / unit_s - 1e-9)  # 6.000000001 s of float arithmetic is one unit
    return max(1 if at_least_one else 0, units) * per_unit


async def debit(
    db: AsyncSession,
    *,
    organization_id: str,
    amount: int,
    at: datetime,
    model: str,
    api_key_id: str | None,
    session_id: str | None = None,
    task_id: str | None = None,
) -> int:
    """Take ``amount`` credits (at most the balance) and record the charge; returns what was
    taken. Locks the organisation row, so concurrent debits never overdraw."""
    org = await db.get(Organization, organization_id, with_for_update=True, populate_existing=True)
    assert org is not None
    amount = min(amount, max(org.credit_balance, 0))
    if amount <= 0:
        return 0
    org.credit_balance -= amount
    db.add(
        CreditCharge(
            organization_id=organization_id,
            api_key_id=api_key_id,
            session_id=session_id,
            task_id=task_id,
            model=model,
            amount=amount,
            at=at,
        )
    )
    return amount
