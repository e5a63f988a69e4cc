"""tokenport's one exception tree.

    TokenportError
    ├── ClientError                 the caller's fault; never retried, never falls back
    │   ├── BadRequest              400  malformed JSON, wrong types, unsupported parameter
    │   │   ├── ParamError          400  a bad query parameter (analytics), allowed values
    │   │   └── CostInputError      400  a bad cost input (economics), allowed values
    │   ├── Unauthorized            401  missing, unknown, revoked or expired key
    │   ├── PaymentRequired         402  not enough credit to reserve the request's maximum cost
    │   ├── Forbidden               403  admin endpoint without the admin key; model not allowed
    │   │   ├── AbuseBlocked        403  the abuse policy blocked the key (`abuse_blocked`)
    │   │   └── AbuseReview         403  the key awaits an admin's review (`abuse_review`)
    │   ├── NotFound                404  unknown model (with close matches) or generation id
    │   │   ├── NoEndpoints         404  the `provider` filters left no route (names each filter)
    │   │   └── ProviderNotConfigured 404  the model's providers lack configuration (no API key)
    │   ├── Conflict                409  the object exists already, or is still in use
    │   ├── RequestTimeout          408  the body did not arrive within body_timeout_s
    │   ├── PayloadTooLarge         413  body over the configured limit
    │   └── RateLimited             429  the key's own RPM/TPM limit (carries Retry-After)
    │       └── AbuseThrottled      429  the abuse policy's lower limit (`abuse_throttled`)
    ├── UpstreamError               something went wrong at a provider; may fall back
    │   ├── UpstreamTimeout         the attempt's deadline passed
    │   ├── UpstreamConnectError    could not connect / connection dropped
    │   ├── UpstreamRateLimited     upstream 429 (may carry Retry-After)
    │   ├── UpstreamServerError     upstream 5xx
    │   ├── UpstreamAuthError       upstream 401/403: our configured key is bad -> 502
    │   ├── UpstreamBadRequest      upstream 4xx other than auth/429: the request itself is bad
    │   └── UpstreamProtocolError   upstream answered something we cannot parse
    ├── AllProvidersFailed          every candidate failed; carries the attempts -> 502/503
    ├── ServiceUnavailable          503  a dependency of the gateway itself is down
    └── ConfigError                 invalid configuration file or environment

Errors map to responses in exactly one place: `api/errors.py` (status, Retry-After,
WWW-Authenticate and the body; a door renders the same message in its own API's shape).
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenport.values import Attempt


class TokenportError(Exception):
    """Every error carries what the one boundary (`api/errors.py`) needs to answer it:
    status, OpenAI-style type and code, and where it helps the client, the parameter at
    fault with its allowed values and an authentication challenge."""

    status: int = 500
    code: str = "internal_error"
    type: str = "api_error"
    param: str | None = None
    allowed: tuple[str, ...] | None = None
    challenge: str | None = None  # a WWW-Authenticate value (401 only)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(TokenportError):
    status = 400
    type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        param: str | None = None,
        allowed: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.param = param
        self.allowed = tuple(allowed) if allowed is not None else None


class BadRequest(ClientError):
    status = 400
    code = "invalid_request"


class Unauthorized(ClientError):
    status = 401
    code = "invalid_api_key"
    type = "authentication_error"

    def __init__(self, message: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge


class PaymentRequired(ClientError):
    status = 402
    code = "insufficient_credits"
    type = "insufficient_quota"


class Forbidden(ClientError):
    status = 403
    code = "forbidden"
    type = "permission_error"


class NotFound(ClientError):
    status = 404
    code = "not_found"
    type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"

    def __init__(self, model: str, suggestions: Sequence[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"The model '{model}' is not in the catalog.{hint} GET /v1/models lists every model."
        )
        self.model = model
        self.suggestions = list(suggestions)


class NoEndpoints(NotFound):
    """Every route of the model was excluded by a `provider` filter (data policy,
    quantization, required parameters); OpenRouter answers the same 404."""

    code = "no_endpoints_found"


class Conflict(ClientError):
    status = 409
    code = "conflict"


class ProviderNotConfigured(NotFound):
    """No provider of the model can be used here because of the gateway's configuration
    (say, no API key for the only provider). A 404 on purpose, not a 503: the openai and
    anthropic SDKs retry 408, 409, 429 and 5xx, so a 503 was retried (twice, with backoff)
    though nothing will change until an operator acts, and it read as an overload. OpenRouter
    answers 404 "No endpoints found" when a model has no usable endpoint; the SDKs raise
    NotFoundError for it at once. The message names what to set."""

    code = "provider_not_configured"


class RequestTimeout(ClientError):
    status = 408
    code = "request_timeout"


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class RateLimited(ClientError):
    status = 429
    code = "rate_limited"
    type = "rate_limit_error"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AbuseBlocked(Forbidden):
    code = "abuse_blocked"


class AbuseReview(Forbidden):
    code = "abuse_review"


class AbuseThrottled(RateLimited):
    code = "abuse_throttled"


class UpstreamError(TokenportError):
    """A failure at one provider. `retryable` decides whether the next candidate is tried."""

    status = 502
    code = "upstream_error"
    type = "upstream_error"
    retryable = True

    def __init__(
        self,
        provider: str,
        message: str,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.http_status = http_status
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "upstream_rate_limited"


class UpstreamServerError(UpstreamError):
    code = "upstream_server_error"


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth_failed"
    retryable = True  # another provider with a good key can still serve the request


class UpstreamBadRequest(UpstreamError):
    """The upstream rejected the request itself; another provider would likely do the same."""

    status = 400
    code = "upstream_bad_request"
    type = "invalid_request_error"
    retryable = False


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class AllProvidersFailed(TokenportError):
    status = 502
    code = "all_providers_failed"
    type = "upstream_error"

    def __init__(self, attempts: Sequence[Attempt], last: TokenportError | None = None) -> None:
        detail = "; ".join(f"{a.provider}/{a.model}: {a.error}" for a in attempts) or "none tried"
        super().__init__(f"All {len(attempts)} route(s) failed: {detail}")
        self.attempts = list(attempts)
        self.last = last
        if last is not None and isinstance(last, UpstreamError | ClientError):
            # Surface the most telling status: a lone 429 stays a 429, a lone timeout a 504.
            self.status = last.status if len(attempts) == 1 else self.status


class ServiceUnavailable(TokenportError):
    status = 503
    code = "service_unavailable"


class ConfigError(TokenportError):
    code = "config_error"
