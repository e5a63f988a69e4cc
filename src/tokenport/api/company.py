"""The management API beyond keys: budgets, workspaces and members, activity, the audit log.

Every route resolves its caller the same way as the key routes (`api/admin.py`:
the gateway's admin key or a management key) and calls the one management path
(`security/manage.py`), which checks roles and writes the audit log. An object of another
workspace answers 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.admin import principal_of
from tokenport.api.http import json_response, read_json
from tokenport.security.admission import Admission
from tokenport.security.budgets import Budget, BudgetUsage
from tokenport.security.guardrails import GuardrailPolicy
from tokenport.security.keys import NANO
from tokenport.security.manage import BudgetSpec, Manager, Usd
from tokenport.security.principal import Principal
from tokenport.security.workspaces import Role

Handler = Callable[[Request], Awaitable[Response]]


class BudgetPatch(msgspec.Struct, forbid_unknown_fields=True):
    limit: Usd


class NewWorkspace(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewMember(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern="^[^@\\s]+@[^@\\s]+$")]
    role: Role
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class MemberPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


def budget_json(u: BudgetUsage) -> dict[str, Any]:
    b: Budget = u.budget
    return {
        "id": b.id,
        "workspace_id": b.workspace_id,
        "level": b.level,
        "subject": b.subject,
        "period": b.period,
        "limit": b.limit_nano / NANO,
        "usage": u.usage_nano / NANO,
        "reserved": u.reserved_nano / NANO,
        "remaining": u.remaining_nano / NANO,
        "period_start": u.period_start,
        "period_end": u.period_end,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
    }


def routes(admission: Callable[[], Admission], admin_key: str | None) -> list[Route]:
    def guard(handler: Callable[[Request, Principal, Manager], Awaitable[Any]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            adm = admission()
            manager = Manager(adm.keys)
            who = await principal_of(request, adm, manager, admin_key)
            result = await handler(request, who, manager)
            return result if isinstance(result, Response) else json_response({"data": result})

        return wrapped

    async def reload_budgets() -> None:
        adm = admission()
        if adm.budgets is not None:
            await adm.budgets.reload()

    def run(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return asyncio.to_thread(fn, *args)

    # -- budgets -------------------------------------------------------------------------

    async def list_budgets(request: Request, who: Principal, m: Manager) -> Any:
        return [budget_json(u) for u in await run(m.list_budgets, who)]

    async def create_budget(request: Request, who: Principal, m: Manager) -> Response:
        spec: BudgetSpec = await read_json(request, BudgetSpec)
        budget = await run(m.create_budget, who, spec)
        await reload_budgets()
        usage = await run(m.budgets.usage, budget)
        return json_response({"data": budget_json(usage)}, 201)

    async def get_budget(request: Request, who: Principal, m: Manager) -> Any:
        return budget_json(await run(m.get_budget, who, request.path_params["budget_id"]))

    async def patch_budget(request: Request, who: Principal, m: Manager) -> Any:
        body: BudgetPatch = await read_json(request, BudgetPatch)
        usage = await run(m.set_budget_limit, who, request.path_params["budget_id"], body.limit)
        await reload_budgets()
        return budget_json(usage)

    async def delete_budget(request: Request, who: Principal, m: Manager) -> Any:
        await run(m.delete_budget, who, request.path_params["budget_id"])
        await reload_budgets()
        return {"success": True}

    async def list_alerts(request: Request, who: Principal, m: Manager) -> Any:
        who.require_admin()
        return [msgspec.to_builtins(a) for a in await run(m.budgets.alerts, who.workspace_id)]

    # -- workspaces and members ----------------------------------------------------------

    async def list_workspaces(request: Request, who: Principal, m: Manager) -> Any:
        return [msgspec.to_builtins(w) for w in await run(m.list_workspaces, who)]

    async def create_workspace(request: Request, who: Principal, m: Manager) -> Response:
        body: NewWorkspace = await read_json(request, NewWorkspace)
        ws = await run(m.create_workspace, who, body.id, body.name)
        return json_response({"data": msgspec.to_builtins(ws)}, 201)

    async def get_workspace(request: Request, who: Principal, m: Manager) -> Any:
        ws = await run(m.get_workspace, who, request.path_params["workspace_id"])
        return msgspec.to_builtins(ws)

    async def delete_workspace(request: Request, who: Principal, m: Manager) -> Any:
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        ws = await run(m.delete_workspace, who, request.path_params["workspace_id"], force)
        admission().forget()
        return msgspec.to_builtins(ws)

    async def list_members(request: Request, who: Principal, m: Manager) -> Any:
        members = await run(m.list_members, who, request.path_params["workspace_id"])
        return [msgspec.to_builtins(x) for x in members]

    async def add_member(request: Request, who: Principal, m: Manager) -> Response:
        body: NewMember = await read_json(request, NewMember)
        ws = request.path_params["workspace_id"]
        member = await run(m.add_member, who, ws, body.email, body.role, body.name)
        return json_response({"data": msgspec.to_builtins(member)}, 201)

    async def patch_member(request: Request, who: Principal, m: Manager) -> Any:
        body: MemberPatch = await read_json(request, MemberPatch)
        ws, mid = request.path_params["workspace_id"], request.path_params["member_id"]
        return msgspec.to_builtins(await run(m.set_role, who, ws, mid, body.role))

    async def remove_member(request: Request, who: Principal, m: Manager) -> Any:
        ws, mid = request.path_params["workspace_id"], request.path_params["member_id"]
        member = await run(m.remove_member, who, ws, mid)
        admission().forget()
        return msgspec.to_builtins(member)

    # -- guardrails ----------------------------------------------------------------------

    async def reload_guardrails() -> None:
        adm = admission()
        if adm.guardrails is not None:
            await adm.guardrails.reload()

    async def list_guardrails(request: Request, who: Principal, m: Manager) -> Any:
        return [msgspec.to_builtins(g) for g in await run(m.list_guardrails, who)]

    async def put_guardrail(request: Request, who: Principal, m: Manager) -> Any:
        policy: GuardrailPolicy = await read_json(request, GuardrailPolicy)
        level, subject = request.path_params["level"], request.path_params["subject"]
        stored = await run(m.put_guardrail, who, level, subject, policy)
        await reload_guardrails()
        return msgspec.to_builtins(stored)

    async def delete_guardrail(request: Request, who: Principal, m: Manager) -> Any:
        level, subject = request.path_params["level"], request.path_params["subject"]
        await run(m.delete_guardrail, who, level, subject)
        await reload_guardrails()
        return {"success": True}

    # -- activity and audit --------------------------------------------------------------

    async def activity(request: Request, who: Principal, m: Manager) -> Any:
        return [msgspec.to_builtins(r) for r in await run(m.activity, who)]

    async def audit(request: Request, who: Principal, m: Manager) -> Any:
        return [msgspec.to_builtins(e) for e in await run(m.audit, who)]

    ws = "/api/v1/workspaces/{workspace_id}"
    guardrail = "/api/v1/guardrails/{level}/{subject}"
    return [
        Route("/api/v1/budgets", guard(list_budgets), methods=["GET"]),
        Route("/api/v1/budgets", guard(create_budget), methods=["POST"]),
        Route("/api/v1/budgets/{budget_id}", guard(get_budget), methods=["GET"]),
        Route("/api/v1/budgets/{budget_id}", guard(patch_budget), methods=["PATCH"]),
        Route("/api/v1/budgets/{budget_id}", guard(delete_budget), methods=["DELETE"]),
        Route("/api/v1/budget-alerts", guard(list_alerts), methods=["GET"]),
        Route("/api/v1/workspaces", guard(list_workspaces), methods=["GET"]),
        Route("/api/v1/workspaces", guard(create_workspace), methods=["POST"]),
        Route(ws, guard(get_workspace), methods=["GET"]),
        Route(ws, guard(delete_workspace), methods=["DELETE"]),
        Route(ws + "/members", guard(list_members), methods=["GET"]),
        Route(ws + "/members", guard(add_member), methods=["POST"]),
        Route(ws + "/members/{member_id}", guard(patch_member), methods=["PATCH"]),
        Route(ws + "/members/{member_id}", guard(remove_member), methods=["DELETE"]),
        Route("/api/v1/guardrails", guard(list_guardrails), methods=["GET"]),
        Route(guardrail, guard(put_guardrail), methods=["PUT"]),
        Route(guardrail, guard(delete_guardrail), methods=["DELETE"]),
        Route("/api/v1/activity", guard(activity), methods=["GET"]),
        Route("/api/v1/audit", guard(audit), methods=["GET"]),
    ]
