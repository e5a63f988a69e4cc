"""The ledger's one record per request."""

from __future__ import annotations

import msgspec

from tokenport.ledger.signals import RequestSignals
from tokenport.values import Attempt, PluginUse


class KeyHold(msgspec.Struct, frozen=True):
    """The credit a request reserved on its key, and the holder that reserved it
    (`security/holds.py`): what the ledger needs to charge the request to its key if the
    gateway could not (database down, process killed). See `ledger/charges.py`."""

    holder: str
    reserved_nano: int
    # The budget periods the same amount is reserved on, each "budget_id@period_start"
    # (`ledger/budget_charges.py`); the request is charged to these periods, whenever it ends.
    slots: list[str] = msgspec.field(default_factory=list)


class LedgerRecord(msgspec.Struct, omit_defaults=True):
    """Everything tokenport knows about one request once it has finished.

    `id` is a ULID string (sortable by time); `ts` is the request's start, Unix seconds.
    Costs are USD. `status` is "ok", "error" (the gateway tried and failed) or "refused"
    (answered 4xx/503 before any upstream call: a bad key, a limit, an unknown model;
    `api/refusals.py`, which may fold a flood of refusals into one record of
    `request_count`). `hold` travels in the journal only (it is not
    a `requests` column): a record with a hold is charged to its key when it is inserted,
    unless the gateway already did (exactly once either way).
    """

    id: str
    ts: float
    model_requested: str
    status: str
    key_id: str | None = None
    app: str | None = None
    model_served: str | None = None
    provider: str | None = None
    region: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    upstream_cost: float | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    error_class: str | None = None
    usage_estimated: bool = False
    finish_reason: str | None = None
    stream: bool = False
    http_status: int = 200
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    energy_wh: float | None = None
    energy_cost: float | None = None
    door: str = "chat"  # the API the request came through (`tokenport.values.Door`)
    # Served by the response cache (`tokenport.cache`): provider "cache", no tokens
    # processed; `cost_saved` is what the answer cost when the upstream served it.
    cache_hit: bool = False
    cost_saved: float | None = None
    hold: KeyHold | None = None
    # What the edge saw (client address, prompt sketches): stored in `request_signals`, not
    # as `requests` columns (ledger/signals.py).
    signals: RequestSignals | None = None
    # What the request's plugins did (`tokenport.plugins`), or None when it named none.
    plugins: list[PluginUse] | None = None
    error_code: str | None = None  # the error's code as the client saw it, e.g. rate_limited
    client_prefix: str | None = None  # refusals: the client's /24 or /48 prefix
    request_count: int = 1  # how many requests this record stands for (see `status`)
