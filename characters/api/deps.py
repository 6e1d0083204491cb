"""Shared FastAPI dependencies: services, the calling principal, base URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from characters.config import Settings
from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.keys import Principal

if TYPE_CHECKING:
    from characters.avatars.processing import AvatarProcessor
    from characters.realtime.calls import Calls
    from characters.sessions.manager import SessionManager
    from characters.tasks.runner import TaskRunner


@dataclass
class Services:
    """Everything a request handler may use; built once by the app's lifespan."""

    settings: Settings
    db: Database
    blobs: BlobStore
    avatars: AvatarProcessor
    sessions: SessionManager
    tasks: TaskRunner
    calls: Calls


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_principal(request: Request) -> Principal:
    principal: Principal = request.state.principal  # set by AuthMiddleware
    return principal


def get_base_url(request: Request) -> str:
    """The URL clients reach this server at (``CHARACTERS_PUBLIC_URL`` or the request's host)."""
    services = get_services(request)
    if services.settings.public_url:
        return services.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
BaseUrlDep = Annotated[str, Depends(get_base_url)]
