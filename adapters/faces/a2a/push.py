"""Push-notification configs over A2A: checked, stored, read back (docs/a2a.md).

Any caller who may read a task may register a config on it; a caller sees, and may
delete, only the configs it made (an admin: all). A config's URL must be http(s)
and, unless the protocol in force sets ``allow_private_webhooks``, resolve to public
addresses only (:mod:`~handoff_ledger.adapters.services.webhook_guard`): refused as
InvalidParams before anything is stored. The reactor delivers them
(:mod:`~handoff_ledger.adapters.services.a2a_push`).
"""

from __future__ import annotations

import uuid

import httpx
from a2a.types.a2a_pb2 import AuthenticationInfo, TaskPushNotificationConfig
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.a2a_push import PushConfig, PushConfigs
from handoff_ledger.adapters.services.webhook_guard import WebhookRefused, resolve

__all__ = ["PushFace", "as_proto"]

MAX_FIELD = 2048


class PushFace:
    """The four push-config operations, each run on a worker thread by the handler."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.configs = PushConfigs(service.ledger, service.views.store)

    def checked(
        self, given: TaskPushNotificationConfig, task_id: str, caller: Caller
    ) -> PushConfig:
        """The config as it will be stored, or InvalidParams (nothing stored)."""
        url = given.url.strip()
        for name, value in (
            ("url", url),
            ("id", given.id),
            ("token", given.token),
            ("authentication.credentials", given.authentication.credentials),
        ):
            if len(value) > MAX_FIELD or "\x00" in value:
                raise InvalidParamsError(f"{name}: at most {MAX_FIELD} characters, no NUL")
        if not url.startswith(("http://", "https://")):
            raise InvalidParamsError("url: must be an http:// or https:// URL")
        current = self.service.ledger.protocol_in_force()
        allow_private = current is not None and current.protocol.allow_private_webhooks
        try:
            resolve(url, allow_private)
        except WebhookRefused as refused:
            raise InvalidParamsError(f"url: {refused}", data={"field": "url"}) from None
        except httpx.HTTPError as error:
            raise InvalidParamsError(f"url: {error}", data={"field": "url"}) from None
        auth = given.authentication if given.HasField("authentication") else None
        return PushConfig(
            task_id=task_id,
            config_id=given.id or str(uuid.uuid4()),
            owner=caller.agent,
            url=url,
            token=given.token or None,
            scheme=(auth.scheme or None) if auth else None,
            credentials=(auth.credentials or None) if auth else None,
        )

    def save(self, config: PushConfig) -> TaskPushNotificationConfig:
        """Store it (the same id on the same task: replaced)."""
        return as_proto(self.configs.save(config))

    def get(self, task_id: str, config_id: str, caller: Caller) -> TaskPushNotificationConfig:
        """One of the caller's configs of the task, else TaskNotFound."""
        found = self.configs.get(task_id, config_id)
        if found is None or not _sees(found, caller):
            raise TaskNotFoundError(f"task {task_id} has no push-notification config {config_id!r}")
        return as_proto(found)

    def list(self, task_id: str, caller: Caller) -> list[TaskPushNotificationConfig]:
        """The caller's configs of the task, oldest first."""
        return [as_proto(c) for c in self.configs.of_task(task_id) if _sees(c, caller)]

    def delete(self, task_id: str, config_id: str, caller: Caller) -> None:
        """Remove one of the caller's configs, else TaskNotFound."""
        self.get(task_id, config_id, caller)
        self.configs.delete(task_id, config_id)


def _sees(config: PushConfig, caller: Caller) -> bool:
    return caller.admin or config.owner == caller.agent


def as_proto(config: PushConfig) -> TaskPushNotificationConfig:
    """A stored config as A2A's message (its credentials are never read back)."""
    answer = TaskPushNotificationConfig(
        id=config.config_id, task_id=config.task_id, url=config.url, token=config.token or ""
    )
    if config.scheme:
        answer.authentication.CopyFrom(AuthenticationInfo(scheme=config.scheme))
    return answer
