"""Managing keys, budgets, workspaces and members: the one path the management API
(`api/company.py`, `api/admin.py`) and the CLI (`tokenport keys ...`) both call.

Every method takes the acting `Principal`, checks what it may do, does it, and appends
the action to the audit log (`security/audit.py`) with the object before and after. The
methods are blocking (the API runs them in a worker thread).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec

from tokenport.errors import BadRequest, Forbidden, NotFound
from tokenport.security.audit import AuditEntry, AuditLog
from tokenport.security.budget_store import BudgetStore, key_limit_id
from tokenport.security.budgets import Budget, BudgetUsage, period_start
from tokenport.security.guardrail_store import GuardrailStore
from tokenport.security.guardrails import Compiled, GuardrailPolicy, StoredPolicy
from tokenport.security.keys import MAX_CREDIT_USD, NANO, ApiKey, KeyEdit, NewKey, Scope, to_nano
from tokenport.security.keystore import KeyStore
from tokenport.security.principal import Principal
from tokenport.security.workspaces import Member, Role, Workspace, WorkspaceStore

# Credit is integer nano-USD in a 64-bit column (max ~9.2e9 USD): one billion per key or
# budget leaves room for usage and reservations on top.
Usd = Annotated[float, msgspec.Meta(ge=0, le=MAX_CREDIT_USD)]
_Rate = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Reset = Annotated[str, msgspec.Meta(pattern="^(daily|weekly|monthly)$")]


class KeySpec(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/v1/keys` (OpenRouter's fields, and tokenport's own)."""

    name: _Name
    limit: Usd | None = None
    limit_reset: Reset | None = None
    include_byok_in_limit: bool = False
    allowed_models: list[Annotated[str, msgspec.Meta(max_length=200)]] | None = None
    rpm: _Rate | None = None
    tpm: _Rate | None = None
    expires_in_days: Annotated[float, msgspec.Meta(gt=0, le=36_500)] | None = None
    country: Annotated[str, msgspec.Meta(max_length=8)] | None = None
    workspace_id: _Id | None = None  # default: the caller's, or `default` for the admin
    member_id: _Id | None = None
    scope: Scope = "inference"


class KeyPatch(msgspec.Struct, forbid_unknown_fields=True):
    """`PATCH /api/v1/keys/{id}`: each field given is changed."""

    name: _Name | msgspec.UnsetType = msgspec.UNSET
    limit: Usd | msgspec.UnsetType | None = msgspec.UNSET
    limit_reset: Reset | msgspec.UnsetType | None = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET
    include_byok_in_limit: bool | msgspec.UnsetType = msgspec.UNSET


class BudgetSpec(msgspec.Struct, forbid_unknown_fields=True):
    level: Annotated[str, msgspec.Meta(pattern="^(key|member|workspace)$")]
    subject: _Id  # the key's, member's or workspace's id
    period: Annotated[str, msgspec.Meta(pattern="^(daily|weekly|monthly|lifetime)$")]
    limit: Usd


class KeyUsage(msgspec.Struct, frozen=True):
    """A key's spend (USD) in the current UTC day, week and month, from the ledger."""

    daily: float = 0.0
    weekly: float = 0.0
    monthly: float = 0.0


class ActivityRow(msgspec.Struct, frozen=True):
    """One day's use of one model through one provider and endpoint (`GET /api/v1/activity`)."""

    date: str
    model: str
    provider_name: str
    endpoint: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    usage: float  # USD
    # OpenRouter's own fields, so its SDKs read the row: the route's id (provider/model),
    # the model's permanent slug, cached prompt tokens, and BYOK spend (none here).
    cached_tokens: int = 0
    endpoint_id: str = ""
    model_permaslug: str = ""
    byok_usage_inference: float = 0.0


class KeyBudgetView(msgspec.Struct, frozen=True):
    """A key's limit and spend as OpenRouter's `GET /api/v1/key` shows them, and every
    budget above the key with its current period (`key_budget_view`)."""

    limit: float | None
    limit_remaining: float | None
    limit_reset: str | None
    include_byok_in_limit: bool
    usage: float
    usage_daily: float
    usage_weekly: float
    usage_monthly: float
    budgets: list[BudgetUsage]


class Manager:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.workspaces = WorkspaceStore(keys)
        self.budgets = BudgetStore(keys)
        self.audit_log = AuditLog(keys)
        self.guardrails = GuardrailStore(keys)

    def _audit(
        self, p: Principal, action: str, ws: str | None, target: str, before: Any, after: Any
    ) -> None:
        self.audit_log.append(
            p.actor, action, workspace_id=ws, target=target, before=before, after=after
        )

    # -- keys ----------------------------------------------------------------------------

    def create_key(self, p: Principal, spec: KeySpec, **origin: Any) -> NewKey:
        ws = spec.workspace_id or p.workspace_id or "default"
        self.workspaces.get(ws)
        if not p.sees(ws):
            raise Forbidden(f"This key may not create keys in the workspace '{ws}'.")
        member_id = spec.member_id
        if p.role == "member":
            member_id = p.member_id  # a member creates keys for themself
            if spec.scope != "inference":
                raise Forbidden("Only a workspace admin may create management keys.")
        elif p.role != "admin":
            raise Forbidden("A viewer cannot create keys.")
        if member_id is not None and self.workspaces.member(member_id).workspace_id != ws:
            raise BadRequest(f"The member '{member_id}' is not in '{ws}'.", param="member_id")
        created = origin.pop("created_at", None)
        now = created or time.time()
        expires = now + spec.expires_in_days * 86400 if spec.expires_in_days else None
        new = self.keys.create(
            spec.name,
            credit_limit_usd=spec.limit if spec.limit_reset is None else None,
            allowed_models=spec.allowed_models,
            rpm=spec.rpm,
            tpm=spec.tpm,
            expires_at=expires,
            country=spec.country,
            created_at=created,
            workspace_id=ws,
            member_id=member_id,
            scope=spec.scope,
            **origin,
        )
        key = new.key
        if spec.limit_reset is not None or spec.include_byok_in_limit:
            if spec.limit_reset is not None:
                nano = None if spec.limit is None else to_nano(spec.limit)
                self.budgets.set_key_limit(key, nano, spec.limit_reset)
            if spec.include_byok_in_limit:
                self.keys.update(key.id, KeyEdit(include_byok_in_limit=True))
            key = self.keys.get(key.id)
        self._audit(p, "key.create", ws, key.id, None, key)
        return NewKey(key, new.secret)

    def list_keys(self, p: Principal, workspace_id: str | None = None) -> list[ApiKey]:
        if workspace_id is not None and not p.sees(workspace_id):
            raise Forbidden(f"No access to the workspace '{workspace_id}'.")
        keys = self.keys.list(workspace_id or p.workspace_id)
        return [k for k in keys if p.sees_key(k)]

    def get_key(self, p: Principal, key_id: str) -> ApiKey:
        key = self.keys.get(key_id)
        if not p.sees_key(key):  # another workspace's key does not exist for this caller
            raise NotFound(f"No key with id '{key_id}'.")
        return key

    def update_key(self, p: Principal, key_id: str, patch: KeyPatch) -> ApiKey:
        before = self.get_key(p, key_id)
        p.require_write_key(before)
        self.keys.update(
            key_id,
            KeyEdit(
                name=patch.name,
                disabled=patch.disabled,
                include_byok_in_limit=patch.include_byok_in_limit,
            ),
        )
        if patch.limit is not msgspec.UNSET or patch.limit_reset is not msgspec.UNSET:
            limit = self._current_limit(before) if patch.limit is msgspec.UNSET else patch.limit
            reset = before.limit_reset if patch.limit_reset is msgspec.UNSET else patch.limit_reset
            nano = None if limit is None else to_nano(limit)
            self.budgets.set_key_limit(before, nano, reset)
        after = self.keys.get(key_id)
        self._audit(p, "key.update", after.workspace_id, key_id, before, after)
        return after

    def key_limits(self, keys: list[ApiKey]) -> dict[str, BudgetUsage]:
        """The current period of each resetting key's limit (keys without one are left out)."""
        resetting = [k for k in keys if k.limit_reset is not None]
        if not resetting:
            return {}
        budgets = {b.id: b for b in self.budgets.all_budgets()}
        out = {}
        for k in resetting:
            b = budgets.get(key_limit_id(k.id, k.limit_reset or ""))
            if b is not None:
                out[k.id] = self.budgets.usage(b)
        return out

    def _current_limit(self, key: ApiKey) -> float | None:
        budget = self.budgets.key_limit(key)
        return budget.limit_usd if budget is not None else key.limit_usd

    def delete_key(self, p: Principal, key_id: str) -> ApiKey:
        before = self.get_key(p, key_id)
        p.require_write_key(before)
        for budget in self.budgets.in_workspace(before.workspace_id):
            if budget.level == "key" and budget.subject == key_id:
                self.budgets.delete(budget.id)
        self.keys.delete(key_id)
        self._audit(p, "key.delete", before.workspace_id, key_id, before, None)
        return before

    def revoke_key(self, p: Principal, key_id: str) -> ApiKey:
        before = self.get_key(p, key_id)
        p.require_write_key(before)
        after = self.keys.revoke(key_id)
        self._audit(p, "key.revoke", after.workspace_id, key_id, before, after)
        return after

    def top_up(self, p: Principal, key_id: str, usd: float) -> ApiKey:
        before = self.get_key(p, key_id)
        p.require_admin(before.workspace_id)
        if before.limit_reset is not None:
            raise BadRequest(
                "This key's limit resets; change it with PATCH /api/v1/keys/{id} (limit).",
                param="amount",
            )
        if (before.limit_usd or 0.0) + usd > MAX_CREDIT_USD:
            raise BadRequest(
                f"A key's credit limit may not exceed ${MAX_CREDIT_USD:,.0f}.", param="amount"
            )
        after = self.keys.top_up(key_id, usd)
        self._audit(p, "key.top_up", after.workspace_id, key_id, before, after)
        return after

    # -- what a key may spend (for `GET /api/v1/key` and the key objects) ----------------

    def key_budget_view(self, key: ApiKey, now: float | None = None) -> KeyBudgetView:
        now = time.time() if now is None else now
        fresh = self.keys.get(key.id)
        above = [b for b in self.budgets.all_budgets() if (b.level, b.subject) in _subjects(fresh)]
        views = [self.budgets.usage(b, now) for b in above]
        own = self.budgets.key_limit(fresh)
        spent = self.key_usage([fresh.id], now).get(fresh.id, KeyUsage())
        if own is not None:
            mine = next(v for v in views if v.budget.id == own.id)
            limit: float | None = own.limit_usd
            remaining: float | None = mine.remaining_nano / NANO
        else:
            limit, remaining = fresh.limit_usd, fresh.remaining_usd
        return KeyBudgetView(
            limit=limit,
            limit_remaining=None if remaining is None else max(0.0, remaining),
            limit_reset=fresh.limit_reset,
            include_byok_in_limit=fresh.include_byok_in_limit,
            usage=fresh.usage_usd,
            usage_daily=spent.daily,
            usage_weekly=spent.weekly,
            usage_monthly=spent.monthly,
            budgets=views,
        )

    def key_usage(self, key_ids: list[str], now: float) -> dict[str, KeyUsage]:
        """Each key's ledger spend this UTC day, week and month (one grouped query)."""
        if not key_ids:
            return {}
        day, week, month = (period_start(x, now) for x in ("daily", "weekly", "monthly"))
        p = self.keys.param
        marks = ", ".join([p] * len(key_ids))
        since = f"SUM(CASE WHEN ts >= {p} THEN cost ELSE 0 END)"
        rows, _ = self.keys.execute(
            f"SELECT key_id, {since}, {since}, {since} FROM requests "
            f"WHERE key_id IN ({marks}) AND ts >= {p} GROUP BY key_id",
            (day, week, month, *key_ids, min(week, month)),
        )
        return {r[0]: KeyUsage(*(float(v or 0) for v in r[1:])) for r in rows}

    # -- budgets -------------------------------------------------------------------------

    def create_budget(self, p: Principal, spec: BudgetSpec) -> Budget:
        ws = self._subject_workspace(spec.level, spec.subject)
        p.require_admin(ws)
        budget = self.budgets.create(ws, spec.level, spec.subject, spec.period, to_nano(spec.limit))
        self._audit(p, "budget.create", ws, budget.id, None, budget)
        return budget

    def _subject_workspace(self, level: str, subject: str) -> str:
        if level == "workspace":
            return self.workspaces.get(subject).id
        if level == "member":
            return self.workspaces.member(subject).workspace_id
        return self.keys.get(subject).workspace_id

    def list_budgets(self, p: Principal) -> list[BudgetUsage]:
        budgets = self.budgets.in_workspace(p.workspace_id)
        if p.role == "member":
            mine = {k.id for k in self.list_keys(p)} | {p.member_id, p.workspace_id}
            budgets = [b for b in budgets if b.subject in mine]
        return [self.budgets.usage(b) for b in budgets]

    def get_budget(self, p: Principal, budget_id: str) -> BudgetUsage:
        found = [u for u in self.list_budgets(p) if u.budget.id == budget_id]
        if not found:
            raise NotFound(f"No budget '{budget_id}'.")
        return found[0]

    def set_budget_limit(self, p: Principal, budget_id: str, limit: float) -> BudgetUsage:
        before = self.get_budget(p, budget_id).budget
        p.require_admin(before.workspace_id)
        after = self.budgets.set_limit(budget_id, to_nano(limit))
        self._audit(p, "budget.update", after.workspace_id, budget_id, before, after)
        return self.budgets.usage(after)

    def delete_budget(self, p: Principal, budget_id: str) -> Budget:
        before = self.get_budget(p, budget_id).budget
        p.require_admin(before.workspace_id)
        self.budgets.delete(budget_id)
        self._audit(p, "budget.delete", before.workspace_id, budget_id, before, None)
        return before

    # -- workspaces and members ----------------------------------------------------------

    def create_workspace(self, p: Principal, workspace_id: str, name: str) -> Workspace:
        p.require_gateway_admin()
        ws = self.workspaces.create(workspace_id, name)
        self._audit(p, "workspace.create", ws.id, ws.id, None, ws)
        return ws

    def list_workspaces(self, p: Principal) -> list[Workspace]:
        return [w for w in self.workspaces.all() if p.sees(w.id)]

    def get_workspace(self, p: Principal, workspace_id: str) -> Workspace:
        if not p.sees(workspace_id):
            raise NotFound(f"No workspace '{workspace_id}'.")
        return self.workspaces.get(workspace_id)

    def delete_workspace(self, p: Principal, workspace_id: str, force: bool) -> Workspace:
        p.require_gateway_admin()
        ws = self.workspaces.delete(workspace_id, force=force)
        self._audit(p, "workspace.delete", ws.id, ws.id, ws, {"force": force})
        return ws

    def add_member(
        self, p: Principal, workspace_id: str, email: str, role: Role, name: str | None
    ) -> Member:
        p.require_admin(workspace_id)
        m = self.workspaces.add_member(workspace_id, email, role, name)
        self._audit(p, "member.create", workspace_id, m.id, None, m)
        return m

    def list_members(self, p: Principal, workspace_id: str) -> list[Member]:
        self.get_workspace(p, workspace_id)
        return self.workspaces.members(workspace_id)

    def set_role(self, p: Principal, workspace_id: str, member_id: str, role: Role) -> Member:
        before = self._member_in(p, workspace_id, member_id)
        p.require_admin(workspace_id)
        after = self.workspaces.set_role(member_id, role)
        self._audit(p, "member.update", workspace_id, member_id, before, after)
        return after

    def remove_member(self, p: Principal, workspace_id: str, member_id: str) -> Member:
        before = self._member_in(p, workspace_id, member_id)
        p.require_admin(workspace_id)
        self.workspaces.remove_member(member_id)
        self._audit(p, "member.delete", workspace_id, member_id, before, None)
        return before

    def _member_in(self, p: Principal, workspace_id: str, member_id: str) -> Member:
        m = self.workspaces.member(member_id)
        if m.workspace_id != workspace_id or not p.sees(workspace_id):
            raise NotFound(f"No member '{member_id}'.")
        return m

    def member_role(self, member_id: str | None) -> Role | None:
        if member_id is None:
            return None
        try:
            return self.workspaces.member(member_id).role
        except NotFound:
            raise Forbidden("This key's member was removed.") from None

    # -- guardrails ----------------------------------------------------------------------

    def put_guardrail(
        self, p: Principal, level: str, subject: str, policy: GuardrailPolicy
    ) -> StoredPolicy:
        if level not in ("workspace", "key"):
            raise BadRequest("A guardrail's level is workspace or key.", param="level")
        ws = self._subject_workspace(level, subject)
        p.require_admin(ws)
        Compiled(f"{level} '{subject}'", policy)  # a bad regex is a 400 now, not at admission
        before = self.guardrails.find(level, subject)
        after = self.guardrails.put(level, subject, ws, policy)
        self._audit(p, "guardrail.put", ws, f"{level}:{subject}", before, after)
        return after

    def list_guardrails(self, p: Principal) -> list[StoredPolicy]:
        return [g for g in self.guardrails.all_policies() if p.sees(g.workspace_id)]

    def delete_guardrail(self, p: Principal, level: str, subject: str) -> StoredPolicy:
        found = self.guardrails.find(level, subject)
        if found is None or not p.sees(found.workspace_id):
            raise NotFound(f"No guardrail for the {level} '{subject}'.")
        p.require_admin(found.workspace_id)
        self.guardrails.delete(level, subject)
        self._audit(p, "guardrail.delete", found.workspace_id, f"{level}:{subject}", found, None)
        return found

    # -- activity ------------------------------------------------------------------------

    def activity(self, p: Principal, now: float | None = None) -> list[ActivityRow]:
        """The last 30 UTC days (today included) by day, model, provider and endpoint (the
        door), over the keys the caller sees."""
        if p.role == "viewer" and p.workspace_id is None:
            raise Forbidden("No access.")
        start = period_start("daily", time.time() if now is None else now) - 29 * 86_400
        q = self.keys.param
        day = (
            "CAST(r.ts AS INTEGER) / 86400"
            if self.keys.dialect == "sqlite"
            else "CAST(FLOOR(r.ts) AS BIGINT) / 86400"
        )
        where = f"r.ts >= {q}"
        params: list[object] = [start]
        if p.workspace_id is not None:
            where += f" AND k.workspace_id = {q}"
            params.append(p.workspace_id)
        if p.role == "member":
            where += f" AND k.member_id = {q}"
            params.append(p.member_id or "")
        rows, _ = self.keys.execute(
            # request_count: an aggregated refusal record stands for several requests.
            f"SELECT {day} AS d, r.model_served, r.provider, r.door, SUM(r.request_count), "
            "SUM(r.prompt_tokens), SUM(r.completion_tokens), SUM(r.reasoning_tokens), "
            "SUM(r.cost), SUM(r.cached_tokens) FROM requests r "
            "JOIN api_keys k ON k.id = r.key_id "
            f"WHERE {where} GROUP BY d, r.model_served, r.provider, r.door "
            "ORDER BY d, r.model_served, r.provider, r.door",
            params,
        )
        return [
            ActivityRow(
                date=time.strftime("%Y-%m-%d", time.gmtime(int(r[0]) * 86_400)),
                model=r[1] or "",
                provider_name=r[2] or "",
                endpoint=r[3],
                requests=int(r[4]),
                prompt_tokens=int(r[5] or 0),
                completion_tokens=int(r[6] or 0),
                reasoning_tokens=int(r[7] or 0),
                usage=float(r[8] or 0),
                cached_tokens=int(r[9] or 0),
                endpoint_id=f"{r[2] or ''}/{r[1] or ''}",
                model_permaslug=r[1] or "",
            )
            for r in rows
        ]

    # -- audit ---------------------------------------------------------------------------

    def audit(self, p: Principal) -> list[AuditEntry]:
        p.require_admin()
        return self.audit_log.list(p.workspace_id)


def _subjects(key: ApiKey) -> set[tuple[str, str]]:
    out = {("key", key.id), ("workspace", key.workspace_id)}
    if key.member_id is not None:
        out.add(("member", key.member_id))
    return out


def key_json(k: ApiKey, resetting: BudgetUsage | None = None) -> dict[str, Any]:
    """A key object; `resetting`: the current period of its `limit_reset` limit, if any."""
    limit, remaining = k.limit_usd, k.remaining_usd
    if resetting is not None:
        limit = resetting.budget.limit_nano / 1e9
        remaining = resetting.remaining_nano / 1e9
    return {
        "id": k.id,
        "hash": k.id,  # OpenRouter names a key by its `hash`
        "name": k.name,
        "label": k.prefix + "...",
        "disabled": k.disabled,
        "limit_reset": k.limit_reset,
        "include_byok_in_limit": k.include_byok_in_limit,
        "workspace_id": k.workspace_id,
        "member_id": k.member_id,
        "scope": k.scope,
        "updated_at": k.updated_at,
        "prefix": k.prefix,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "revoked_at": k.revoked_at,
        "state": k.state(time.time()),
        "limit": limit,
        "usage": k.usage_usd,
        "reserved": k.reserved_nano / 1e9,
        "limit_remaining": remaining,
        "allowed_models": k.allowed_models,
        "rpm": k.rpm,
        "tpm": k.tpm,
        "country": k.country,
    }
