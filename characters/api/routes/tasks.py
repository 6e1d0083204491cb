"""``/v1/tasks/{id}``: poll an asynchronous task (avatar videos), cancel or delete it."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, ServicesDep
from characters.api.wire import ok
from characters.store.blobs import BlobStore
from characters.store.tables import Task
from characters.tasks.runner import TaskStatus
from characters.timeutil import iso

router = APIRouter(prefix="/v1", tags=["tasks"])


class Cost(wire.Response):
    credits: float


class TaskOut(wire.Response):
    id: str
    createdAt: str
    status: Literal["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    estimatedCost: Cost | None = None
    """PENDING, THROTTLED and RUNNING: the expected cost in credits."""
    progress: float | None = None
    """RUNNING: the share done, 0 to 1."""
    cost: Cost | None = None
    """SUCCEEDED, FAILED and CANCELLED: the credits charged (only a success is charged)."""
    output: list[str] | None = None
    """SUCCEEDED: signed URLs of the outputs (the MP4), valid for 24 hours."""
    failure: str | None = None
    failureCode: str | None = None


def task_wire(task: Task, blobs: BlobStore, base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": task.id, "createdAt": iso(task.created_at), "status": task.status}
    status = TaskStatus(task.status)
    if status in (TaskStatus.PENDING, TaskStatus.THROTTLED, TaskStatus.RUNNING):
        out["estimatedCost"] = {"credits": task.estimated_credits}
        if status == TaskStatus.RUNNING:
            out["progress"] = round(min(max(task.progress, 0.0), 1.0), 4)
        return out
    out["cost"] = {"credits": task.credits_charged}
    if status == TaskStatus.SUCCEEDED:
        out["output"] = (
            [base_url + blobs.signed_path(task.output_blob_id)] if task.output_blob_id else []
        )
    elif status == TaskStatus.FAILED:
        out["failure"] = task.failure or "The task failed."
        out["failureCode"] = task.failure_code or "INTERNAL"
    return out


@router.get(
    "/tasks/{id}",
    response_model=TaskOut,
    response_model_exclude_none=True,
    summary="Retrieve a task",
    description="Poll an asynchronous task such as an avatar video. `output` links expire "
    "after 24 hours; retrieve the task again for fresh ones.",
)
async def get_task(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    task = await services.tasks.get(principal, str(id))
    return ok(task_wire(task, services.blobs, base_url))


@router.delete(
    "/tasks/{id}",
    status_code=204,
    response_class=Response,
    summary="Cancel or delete a task",
    description="A PENDING, THROTTLED or RUNNING task is cancelled (it then reads CANCELLED and "
    "is not charged); a finished task is deleted with its output (it then answers 404).",
)
async def delete_task(id: uuid.UUID, services: ServicesDep, principal: PrincipalDep) -> Response:
    await services.tasks.delete(principal, str(id))
    return Response(status_code=204)
