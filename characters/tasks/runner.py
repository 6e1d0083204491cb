"""Asynchronous tasks (avatar videos): creation, one-at-a-time execution, progress, cancel.

Each server process runs one task at a time, in a worker thread (rendering is CPU-bound and
uses both cores), taking them in creation order from its queue. State lives in the ``tasks``
table, so several processes can share a database: a task is claimed by locking its row and
moving it PENDING → RUNNING, and the running process writes its progress and a heartbeat every
second. A process with nothing queued looks for claimable tasks every few seconds: PENDING ones
(created by a process that stopped) and RUNNING ones whose heartbeat is stale (their process
died). On shutdown the running task goes back to PENDING, to be resumed on the next start.

Statuses (the wire's): PENDING → RUNNING → SUCCEEDED | FAILED, and CANCELLED from PENDING or
RUNNING by ``DELETE /v1/tasks/{id}``. THROTTLED is part of the wire format but never used here.
Credits are charged when a task succeeds, for the length of its speech.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.avatars.face_inputs import face_inputs
from characters.config import Settings
from characters.errors import CharactersError, InvalidInput, LimitExceeded, NotFound
from characters.store.blobs import BlobStore
from characters.store.credits import debit
from characters.store.db import Database
from characters.store.janitor import forget_blobs
from characters.store.keys import Principal
from characters.store.tables import Avatar, Blob, Organization, Task
from characters.tasks import avatar_video
from characters.tasks.avatar_video import AvatarVideoJob, JobCancelled
from characters.timeutil import as_utc, utcnow

logger = logging.getLogger("characters.tasks")


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE = frozenset({TaskStatus.PENDING, TaskStatus.THROTTLED, TaskStatus.RUNNING})


class FailureCode(StrEnum):
    """Runway's task failure codes that this server uses."""

    ASSET_INVALID = "ASSET.INVALID"
    """An input could not be used (no face, undecodable audio, a deleted avatar)."""
    INTERNAL = "INTERNAL"


@dataclass
class _Current:
    """The task this process is running now."""

    task_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: float = 0.0
    by_user: bool = False
    """Cancelled through the API (not by shutdown)."""

    def report(self, fraction: float) -> None:
        """Progress callback of the worker thread; raises once the task is to stop."""
        self.progress = max(self.progress, min(1.0, fraction))
        if self.cancel.is_set():
            raise JobCancelled()


class TaskRunner:
    """Owns the task queue and its worker; the API creates, reads and cancels through it."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        settings: Settings,
        *,
        poll_s: float = 5.0,
        heartbeat_s: float = 1.0,
        stale_s: float = 60.0,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._settings = settings
        self._poll_s = poll_s
        self._heartbeat_s = heartbeat_s
        self._stale_s = stale_s
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._job: asyncio.Task[None] | None = None
        self._current: _Current | None = None
        self._closing = False

    # Lifecycle

    async def start(self) -> None:
        """Queue the PENDING tasks (oldest first) and start the worker."""
        async with self._db.transaction() as db:
            pending = (
                await db.scalars(
                    select(Task.id)
                    .where(Task.status == TaskStatus.PENDING)
                    .order_by(Task.created_at, Task.id)
                )
            ).all()
        for task_id in pending:
            self._queue.put_nowait(task_id)
        self._worker = asyncio.get_running_loop().create_task(self._work_forever())

    async def aclose(self, timeout_s: float = 30.0) -> None:
        """Stop: the running task is interrupted and goes back to PENDING."""
        self._closing = True
        if self._current is not None:
            self._current.cancel.set()
        if self._job is not None and not self._job.done():
            await asyncio.wait({self._job}, timeout=timeout_s)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    # API operations

    async def create(
        self,
        principal: Principal,
        *,
        model: str,
        params: dict[str, Any],
        estimated_credits: int,
        audio: tuple[bytes, str] | None = None,
    ) -> Task:
        """Store a new avatar video task (and its speech audio) and queue it."""
        s = self._settings
        async with self._db.transaction() as db:
            org = await db.get(
                Organization,
                principal.organization_id,
                with_for_update=True,
                populate_existing=True,
            )
            if org is None:
                raise NotFound(f"Organisation {principal.organization_id} not found.")
            if org.credit_balance < estimated_credits:
                raise InvalidInput(
                    f"Not enough credits: the balance is {org.credit_balance}, and this video "
                    f"needs about {estimated_credits}. Add credits with "
                    "`characters orgs set ORG_ID --add-credits N`."
                )
            active = await db.scalar(
                select(func.count()).where(
                    Task.organization_id == org.id, Task.status.in_(list(ACTIVE))
                )
            )
            if (active or 0) >= s.max_active_tasks:
                raise LimitExceeded(
                    f"{active} tasks are already pending or running (the limit is "
                    f"{s.max_active_tasks}); wait for some to finish.",
                    retry_after_s=10,
                )
            input_blob_id = None
            if audio is not None:
                data, content_type = audio
                await asyncio.to_thread(self._blobs.write_bytes, data)
                input_blob_id = (await self._blobs.put(db, data, content_type, org.id)).id
            task = Task(
                id=str(uuid.uuid4()),
                organization_id=org.id,
                api_key_id=principal.api_key_id,
                kind=avatar_video.KIND,
                model=model,
                status=TaskStatus.PENDING,
                progress=0.0,
                params=params,
                input_blob_id=input_blob_id,
                estimated_credits=estimated_credits,
                credits_charged=0,
                created_at=utcnow(),
            )
            db.add(task)
        self._queue.put_nowait(task.id)
        return task

    async def get(self, principal: Principal, task_id: str) -> Task:
        async with self._db.transaction() as db:
            task = await self._owned(db, principal, task_id)
        current = self._current
        if current is not None and current.task_id == task.id and task.status == "RUNNING":
            task.progress = max(task.progress, current.progress)
        return task

    async def delete(self, principal: Principal, task_id: str) -> None:
        """Cancel a PENDING or RUNNING task; delete a finished one (and its output)."""
        now = utcnow()
        async with self._db.transaction() as db:
            task = await self._owned(db, principal, task_id, lock=True)
            if TaskStatus(task.status) in ACTIVE:
                task.status = TaskStatus.CANCELLED
                task.ended_at = now
                unlink = await self._release(db, task, output=False)
            else:
                task.deleted_at = now
                unlink = await self._release(db, task, output=True)
        self._blobs.unlink_stale(unlink)
        current = self._current
        if current is not None and current.task_id == task_id:
            current.by_user = True
            current.cancel.set()

    # The worker

    async def _work_forever(self) -> None:
        while not self._closing:
            try:
                task_id: str | None = await asyncio.wait_for(self._queue.get(), self._poll_s)
            except TimeoutError:
                task_id = await self._claimable()
            if task_id is None or self._closing:
                continue
            self._job = asyncio.get_running_loop().create_task(self._run(task_id))
            # Shielded: stopping the worker must not abandon a job whose thread still runs;
            # aclose() interrupts the job itself and waits for it.
            await asyncio.shield(self._job)

    async def _claimable(self) -> str | None:
        """A task no process is working on: PENDING, or RUNNING with a stale heartbeat."""
        stale = utcnow() - timedelta(seconds=self._stale_s)
        try:
            async with self._db.transaction() as db:
                return await db.scalar(
                    select(Task.id)
                    .where(
                        or_(
                            Task.status == TaskStatus.PENDING,
                            (Task.status == TaskStatus.RUNNING) & (Task.heartbeat_at < stale),
                        )
                    )
                    .order_by(Task.created_at, Task.id)
                    .limit(1)
                )
        except Exception:
            logger.exception("looking for pending tasks failed")
            return None

    async def _run(self, task_id: str) -> None:
        try:
            job = await self._claim(task_id)
        except Exception:
            logger.exception("could not start task", extra={"task_id": task_id})
            return
        if job is None:
            return
        current = _Current(task_id)
        self._current = current  # GET shows its live progress until the task has finished
        beat = asyncio.get_running_loop().create_task(self._heartbeat(current))
        try:
            try:
                if isinstance(job, CharactersError):
                    raise job
                output, result = await asyncio.to_thread(avatar_video.run_job, job, current.report)
            finally:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)
            await self._finish(task_id, output=output, speech_s=result.speech_s)
        except JobCancelled:
            if not current.by_user:
                await self._requeue(task_id)
        except CharactersError as e:
            await self._finish(task_id, failure=(e.message, FailureCode.ASSET_INVALID))
        except Exception:
            logger.exception("task failed", extra={"task_id": task_id})
            await self._finish(
                task_id, failure=("Internal error while rendering the video.", FailureCode.INTERNAL)
            )
        finally:
            self._current = None

    async def _claim(self, task_id: str) -> AvatarVideoJob | CharactersError | None:
        """PENDING (or stale RUNNING) → RUNNING, and read the job's inputs; None if taken."""
        now = utcnow()
        stale = now - timedelta(seconds=self._stale_s)
        async with self._db.transaction() as db:
            task = await db.get(Task, task_id, with_for_update=True, populate_existing=True)
            if task is None or task.deleted_at is not None:
                return None
            takeover = (
                task.status == TaskStatus.RUNNING
                and task.heartbeat_at is not None
                and as_utc(task.heartbeat_at) < stale
            )
            if task.status != TaskStatus.PENDING and not takeover:
                return None
            task.status = TaskStatus.RUNNING
            task.progress = 0.0
            task.started_at = task.started_at or now
            task.heartbeat_at = now
            try:
                return await self._load_job(db, task)
            except CharactersError as e:
                return e

    async def _load_job(self, db: AsyncSession, task: Task) -> AvatarVideoJob:
        params = task.params
        avatar = await db.get(Avatar, params["avatar"]["avatarId"])
        if avatar is None or avatar.organization_id != task.organization_id:
            raise InvalidInput("The avatar was deleted before its video was rendered.")
        face = await face_inputs(db, self._blobs, avatar)
        audio = None
        if task.input_blob_id is not None:
            audio_blob = await db.get(Blob, task.input_blob_id)
            assert audio_blob is not None
            audio = await asyncio.to_thread(self._blobs.read, audio_blob)
        speech = params["speech"]
        return AvatarVideoJob(
            image=face.image,
            face=face.face,
            keypoints=face.keypoints,
            text=speech.get("text"),
            voice=speech.get("voice"),
            audio=audio,
            max_speech_s=self._settings.max_speech_s,
        )

    async def _heartbeat(self, current: _Current) -> None:
        """Write progress and a heartbeat every second; notice cancels made elsewhere."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                async with self._db.transaction() as db:
                    task = await db.get(
                        Task, current.task_id, with_for_update=True, populate_existing=True
                    )
                    if task is None or task.status != TaskStatus.RUNNING:
                        current.by_user = True
                        current.cancel.set()
                        return
                    task.progress = round(current.progress, 4)
                    task.heartbeat_at = utcnow()
            except Exception:
                logger.exception("task heartbeat failed", extra={"task_id": current.task_id})

    async def _requeue(self, task_id: str) -> None:
        async with self._db.transaction() as db:
            task = await db.get(Task, task_id, with_for_update=True, populate_existing=True)
            if task is not None and task.status == TaskStatus.RUNNING:
                task.status = TaskStatus.PENDING
                task.progress = 0.0
                task.heartbeat_at = None

    async def _finish(
        self,
        task_id: str,
        *,
        output: bytes | None = None,
        speech_s: float = 0.0,
        failure: tuple[str, FailureCode] | None = None,
    ) -> None:
        s = self._settings
        if output is not None:
            await asyncio.to_thread(self._blobs.write_bytes, output)
        async with self._db.transaction() as db:
            task = await db.get(Task, task_id, with_for_update=True, populate_existing=True)
            if task is None or task.status != TaskStatus.RUNNING:
                return  # cancelled meanwhile: the output is not kept
            task.ended_at = utcnow()
            if failure is not None or output is None:
                task.status = TaskStatus.FAILED
                task.failure, task.failure_code = failure or ("The task failed.", "INTERNAL")
            else:
                blob = await self._blobs.put(db, output, "video/mp4", task.organization_id)
                task.output_blob_id = blob.id
                task.status = TaskStatus.SUCCEEDED
                task.progress = 1.0
                amount = avatar_video.credits_for(speech_s, s.credit_unit_s, s.credits_per_unit)
                await self._charge(db, task, amount)
            unlink = await self._release(db, task, output=False)
        self._blobs.unlink_stale(unlink)

    async def _charge(self, db: AsyncSession, task: Task, amount: int) -> None:
        task.credits_charged = await debit(
            db,
            organization_id=task.organization_id,
            amount=amount,
            at=utcnow(),
            model=task.model,
            api_key_id=task.api_key_id,
            task_id=task.id,
        )

    async def _release(self, db: AsyncSession, task: Task, *, output: bool) -> list[str]:
        """Drop the task's input audio (and its output): returns file hashes to unlink."""
        ids = [task.input_blob_id]
        task.input_blob_id = None
        if output:
            ids.append(task.output_blob_id)
            task.output_blob_id = None
        await db.flush()
        return await forget_blobs(db, ids)

    async def _owned(
        self, db: AsyncSession, principal: Principal, task_id: str, *, lock: bool = False
    ) -> Task:
        task = await db.get(Task, task_id, with_for_update=lock)
        if (
            task is None
            or task.organization_id != principal.organization_id
            or task.deleted_at is not None
        ):
            raise NotFound(f"Task {task_id} not found.")
        return task
