"""Acting from the dashboard: the forms on a chain's handoffs, under every face's rules.

A signed-in agent (humans are agents: ``human:me``) gets a form for each command the
ledger would let it give on an open handoff: ack, status, complete, fail and decline
as its receiver; cancel and reassign as its sender or an admin; reply as its sender,
an escalation target or an admin; a note anywhere. Which ones is decided by running
each command on a copy of the handoff (:func:`permitted`): the domain's own rules,
never a second copy of them. The command itself goes through the same ledger call
as the CLI's, HTTP's and MCP's, and a refusal is the same error document.

Forms are protected against cross-site requests twice: a CSRF token derived from the
viewer's own token (``sha256``: no other site can read the HttpOnly cookie, so none
can compute it; it needs no server state, so every ``--workers`` process accepts
it) must come with every POST, and a POST whose ``Origin`` is another site is
refused. The cookie is ``SameSite=Strict`` besides. A trial viewer (not signed in)
sees no forms: it is nobody.

The page's script posts a form with ``fetch`` and shows the answer where the form
is (the live stream then redraws the chain): no page reload. Without a script the
form posts as any form does and comes back to the chain (303), or to an error page.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from uuid import UUID

import anyio
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from handoff_ledger.adapters.faces.dashboard import auth
from handoff_ledger.adapters.faces.dashboard.render import SECURITY_HEADERS, html
from handoff_ledger.adapters.faces.runtime.errors import error_answer, status_for
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.domain.durations import parse_duration
from handoff_ledger.domain.errors import HandoffError, InvalidInput, NotPermitted, Refused
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

__all__ = ["ACTIONS", "csrf_token", "permitted", "router"]

router = APIRouter()

MAX_FORM_BYTES = 64 * 1024
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Action:
    """One command a form gives: its label, and how it runs on a copy (``probe``:
    ``False`` is a command that would do nothing, as a repeated ack) and for real."""

    label: str
    probe: Callable[[Handoff, str, bool, datetime], object]
    run: Callable[[Ledger, UUID, Caller, dict[str, str]], object]


def _text(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _maybe_duration(form: dict[str, str], name: str) -> Any:
    text = _text(form, name)
    return parse_duration(text, name=name) if text else None


def _maybe_json(form: dict[str, str], name: str) -> dict[str, Any] | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{name}: not valid JSON ({error.msg} at character {error.pos})"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{name}: must be a JSON object")
    return value


def _status(form: dict[str, str]) -> Status:
    text = _text(form, "status")
    try:
        return Status(text)
    except ValueError:
        choices = ", ".join(s.value for s in Status)
        raise InvalidInput(f"status: {text!r} is not one of {choices}") from None


ACTIONS: dict[str, Action] = {
    "ack": Action(
        "Acknowledge",
        lambda h, by, admin, now: h.ack(by=by, now=now),
        lambda ledger, hid, me, form: ledger.ack(
            hid,
            by=me.agent,
            eta=_maybe_duration(form, "eta"),
            next_update=_maybe_duration(form, "next_update"),
        ),
    ),
    "status": Action(
        "Report status",
        lambda h, by, admin, now: h.report_status(by=by, now=now, status=Status.WORKING),
        lambda ledger, hid, me, form: ledger.report_status(
            hid,
            by=me.agent,
            status=_status(form),
            message=_text(form, "message") or None,
            eta=_maybe_duration(form, "eta"),
            next_update=_maybe_duration(form, "next_update"),
        ),
    ),
    "complete": Action(
        "Complete",
        lambda h, by, admin, now: h.complete(by=by, now=now),
        lambda ledger, hid, me, form: ledger.complete(
            hid, by=me.agent, result=_maybe_json(form, "result")
        ),
    ),
    "fail": Action(
        "Fail",
        lambda h, by, admin, now: h.fail(by=by, now=now, reason="probe"),
        lambda ledger, hid, me, form: ledger.fail(
            hid, by=me.agent, reason=_text(form, "reason"), result=_maybe_json(form, "result")
        ),
    ),
    "decline": Action(
        "Decline",
        lambda h, by, admin, now: h.decline(by=by, now=now, reason="probe"),
        lambda ledger, hid, me, form: ledger.decline(
            hid, by=me.agent, reason=_text(form, "reason")
        ),
    ),
    "reply": Action(
        "Reply",
        lambda h, by, admin, now: h.reply(by=by, now=now, message="probe", is_admin=admin),
        lambda ledger, hid, me, form: ledger.reply(
            hid,
            by=me.agent,
            message=_text(form, "message"),
            data=_maybe_json(form, "data"),
            admin=me.admin,
        ),
    ),
    "reassign": Action(
        "Reassign",
        lambda h, by, admin, now: h.reassign(
            by=by, now=now, to=f"{h.receiver}.probe", reason="probe", is_admin=admin
        ),
        lambda ledger, hid, me, form: ledger.reassign(
            hid, by=me.agent, to=_text(form, "to"), reason=_text(form, "reason"), admin=me.admin
        ),
    ),
    "cancel": Action(
        "Cancel",
        lambda h, by, admin, now: h.cancel(by=by, now=now, reason="probe", is_admin=admin),
        lambda ledger, hid, me, form: ledger.cancel(
            hid, by=me.agent, reason=_text(form, "reason"), admin=me.admin
        ),
    ),
    "notes": Action(
        "Add a note",
        lambda h, by, admin, now: h.add_note(by=by, now=now, message="probe"),
        lambda ledger, hid, me, form: ledger.add_note(
            hid, by=me.agent, message=_text(form, "message")
        ),
    ),
}
"""The forms, in the order a handoff's card shows them."""


def permitted(ledger: Ledger, handoff: Handoff, viewer: Caller) -> list[str]:
    """The commands ``viewer`` may give on ``handoff`` now, by the domain's own rules:
    each is tried on a copy (never saved), and one the rules refuse is not offered."""
    admin = viewer.admin or ledger.is_admin(viewer.agent)
    now = ledger.clock.now()
    allowed = []
    for name, action in ACTIONS.items():
        try:
            if action.probe(_copy(handoff), viewer.agent, admin, now) is False:
                continue  # it would do nothing (acked already)
        except Refused:
            continue  # not this agent's to give, or not in this state
        except HandoffError:
            pass  # the probe's own placeholder input: the command itself is allowed
        allowed.append(name)
    return allowed


_KEPT = ("payload", "result", "as_sent")
"""What agents wrote, which no command changes: shared with the copy, not copied
(a payload may nest hundreds deep, past what ``deepcopy`` recurses through)."""


def _copy(handoff: Handoff) -> Handoff:
    """A copy of ``handoff`` for a probe: its state copied, what agents wrote shared."""
    memo: dict[int, Any] = {}
    for name in _KEPT:
        value = getattr(handoff, name, None)
        if value is not None:
            memo[id(value)] = value
    return copy.deepcopy(handoff, memo)


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the viewer's own token (None without one)."""
    secret = auth.secret_of(request)
    if not secret:
        return None
    return hashlib.sha256(b"handoff-dashboard-csrf:" + secret.encode()).hexdigest()


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refusal(request: Request, error: HandoffError, who: Caller | None) -> Response:
    if _wants_json(request):
        status, document, headers = error_answer(error)
        return JSONResponse(document, status_code=status, headers=headers)
    return html(
        "error.html", status_code=status_for(error), message=error.message, **auth.header(who)
    )


@router.post("/handoffs/{id}/{action}")
async def act(request: Request, id: str, action: str) -> Response:
    """Give ``action`` on handoff ``id`` as the signed-in agent (a form's POST)."""
    svc = auth.service(request)
    who = auth.viewer(request)
    if who is None or who == auth.TRIAL_VIEWER:
        return auth.unauthorized()
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return _refusal(request, NotPermitted(f"{action}: {auth.CROSS_SITE}"), who)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        too_big = InvalidInput(f"form: larger than {MAX_FORM_BYTES // 1024} KiB")
        return _refusal(request, too_big, who)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    form = {name: values[-1] for name, values in parsed.items()}
    expected = csrf_token(request)
    given = form.get(CSRF_FIELD, "")
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        error = NotPermitted(f"{action}: the form's CSRF token is missing or wrong (reload it)")
        return _refusal(request, error, who)
    command = ACTIONS.get(action)
    if command is None:
        return _refusal(request, InvalidInput(f"action: {action!r} is not a command"), who)

    def run() -> str:
        handoff_id = resolve_id(svc.ledger, id, noun="a handoff id")
        command.run(svc.ledger, handoff_id, who, form)
        return str(svc.ledger.get(handoff_id).chain_id)

    try:
        chain_id = await anyio.to_thread.run_sync(run)
    except HandoffError as error:
        return _refusal(request, error, who)
    if _wants_json(request):
        return JSONResponse({"ok": True, "action": action, "id": id, "chain_id": chain_id})
    target = f"/dashboard/chains/{quote(chain_id, safe='')}#h-{quote(id, safe='')}"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
