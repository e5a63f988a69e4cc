"""`GET /openapi.json`: an OpenAPI 3.1 document for every HTTP endpoint the gateway serves.

Request bodies come from the same msgspec structs the endpoints decode with (so the
document cannot drift from the parsers); query parameters from the same tuples the
handlers check against. Responses are described by status: the body shapes are the wire
formats' own (OpenAI's, Anthropic's), documented by those APIs.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport import __version__
from tokenport.analytics.periods import MODES, WINDOWS
from tokenport.analytics.service import PARAMS as RANKINGS_PARAMS
from tokenport.api.admin import CreateKey, TopUp
from tokenport.api.company import BudgetPatch, MemberPatch, NewMember, NewWorkspace
from tokenport.economics.api import PARAMS as ECONOMICS_PARAMS
from tokenport.routing.auto.feedback import Feedback
from tokenport.security.guardrails import GuardrailPolicy
from tokenport.security.manage import BudgetSpec, KeyPatch
from tokenport.values import ChatRequest, EmbeddingRequest
from tokenport.wire.anthropic_client_in import MessagesBody
from tokenport.wire.completions import CompletionsBody
from tokenport.wire.openai_chat import OTHER_DOORS
from tokenport.wire.responses_client_in import ResponsesBody

JSON = dict[str, Any]
_REF = "#/components/schemas/"


_BODIES: dict[str, type] = {
    "ChatCompletionRequest": ChatRequest,
    "MessagesRequest": MessagesBody,
    "ResponsesRequest": ResponsesBody,
    "CompletionsRequest": CompletionsBody,
    "EmbeddingsRequest": EmbeddingRequest,
    "CreateKey": CreateKey,
    "TopUp": TopUp,
    "Feedback": Feedback,
    "KeyPatch": KeyPatch,
    "BudgetSpec": BudgetSpec,
    "BudgetPatch": BudgetPatch,
    "NewWorkspace": NewWorkspace,
    "NewMember": NewMember,
    "MemberPatch": MemberPatch,
    "GuardrailPolicy": GuardrailPolicy,
}


def _components() -> dict[str, JSON]:
    _, components = msgspec.json.schema_components(
        list(_BODIES.values()), ref_template=_REF + "{name}"
    )
    named = dict(components)
    for alias, struct in _BODIES.items():
        named[alias] = named.pop(struct.__name__, None) or {"$ref": _REF + struct.__name__}
    chat = named["ChatCompletionRequest"]
    for field in (*OTHER_DOORS, "extra"):
        chat.get("properties", {}).pop(field, None)  # set by other doors, never sent
    return named


def _body(name: str) -> JSON:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _REF + name}}},
    }


def _responses(*codes: int, stream: bool = False) -> JSON:
    ok: JSON = {"description": "OK", "content": {"application/json": {"schema": {}}}}
    if stream:
        ok["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    out: JSON = {"200": ok}
    for code in codes:
        out[str(code)] = {
            "description": _REASONS.get(code, "error"),
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return out


_REASONS = {
    400: "bad request",
    401: "no or bad key",
    402: "not enough credit",
    403: "not allowed",
    404: "not found",
    413: "body too large",
    429: "rate limited",
    502: "every upstream failed",
    503: "a dependency is down",
    504: "the upstream timed out",
}
_DOOR_ERRORS = (400, 401, 402, 403, 404, 413, 429, 502, 503, 504)


def _query(name: str, *, required: bool = False, enum: tuple[str, ...] | None = None) -> JSON:
    schema: JSON = {"type": "string"}
    if enum:
        schema["enum"] = list(enum)
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _path(name: str) -> JSON:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _door(summary: str, body: str) -> JSON:
    return {
        "post": {
            "summary": summary,
            "requestBody": _body(body),
            "responses": _responses(*_DOOR_ERRORS, stream=True),
        }
    }


def _paths() -> dict[str, JSON]:
    paths: dict[str, JSON] = {
        "/v1/chat/completions": _door("OpenAI Chat Completions", "ChatCompletionRequest"),
        "/v1/messages": _door("Anthropic Messages", "MessagesRequest"),
        "/v1/responses": _door("OpenAI Responses", "ResponsesRequest"),
        "/v1/completions": _door("OpenAI legacy Completions", "CompletionsRequest"),
        "/v1/embeddings": {
            "post": {
                "summary": "OpenAI Embeddings",
                "requestBody": _body("EmbeddingsRequest"),
                "responses": _responses(*_DOOR_ERRORS),
            }
        },
        "/v1/messages/count_tokens": {
            "post": {
                "summary": "Anthropic token count (the gateway's estimate)",
                "requestBody": _body("MessagesRequest"),
                "responses": _responses(400, 401, 413),
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "summary": "A stored response (the caller's own)",
                "parameters": [_path("response_id")],
                "responses": _responses(401, 404, 503),
            },
            "delete": {
                "summary": "Delete a stored response",
                "parameters": [_path("response_id")],
                "responses": _responses(401, 404, 503),
            },
        },
        "/v1/models": {
            "get": {
                "summary": "The catalog",
                "parameters": [_query("available", enum=("1", "true", "0", "false"))],
                "responses": _responses(401),
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "summary": "One model",
                "parameters": [_path("model_id")],
                "responses": _responses(401, 404),
            }
        },
        "/api/v1/generation": {
            "get": {
                "summary": "One past request (the caller's own)",
                "parameters": [_query("id", required=True)],
                "responses": _responses(400, 401, 404, 503),
            }
        },
        "/api/v1/rankings": {
            "get": {
                "summary": "Rankings from the ledger's rollups",
                "parameters": [
                    _query(p, enum=WINDOWS if p == "window" else MODES if p == "mode" else None)
                    for p in RANKINGS_PARAMS
                ],
                "responses": _responses(400, 401, 403, 503),
            }
        },
        "/api/v1/economics": {
            "get": {
                "summary": "Serving cost from the kilowatt-hour up",
                "parameters": [_query(p) for p in ECONOMICS_PARAMS],
                "responses": _responses(400, 401),
            }
        },
        "/api/v1/feedback": {
            "post": {
                "summary": "Teach the auto router",
                "requestBody": _body("Feedback"),
                "responses": _responses(400, 401, 403, 404, 429),
            }
        },
        "/api/v1/key": {
            "get": {"summary": "The calling key's limit and usage", "responses": _responses(401)}
        },
        # OpenRouter's read endpoints (api/openrouter/routes.py, docs/openrouter.md)
        "/api/v1/credits": {
            "get": {"summary": "The calling key's credit and usage", "responses": _responses(401)}
        },
        "/api/v1/providers": {"get": {"summary": "Providers", "responses": _responses(401)}},
        "/api/v1/models/count": {
            "get": {"summary": "How many models", "responses": _responses(401)}
        },
        "/api/v1/models/user": {
            "get": {"summary": "The models this gateway serves", "responses": _responses(401)}
        },
        "/api/v1/embeddings/models": {
            "get": {"summary": "Embedding models", "responses": _responses(401)}
        },
        "/api/v1/models/{author}/{slug}/endpoints": {
            "get": {
                "summary": "A model's endpoints, one per provider",
                "parameters": [_path("author"), _path("slug")],
                "responses": _responses(401, 404),
            }
        },
        "/api/v1/model/{author}/{slug}": {
            "get": {
                "summary": "One model, OpenRouter's spelling",
                "parameters": [_path("author"), _path("slug")],
                "responses": _responses(401, 404),
            }
        },
        "/api/v1/keys": {
            "get": {"summary": "Every key (admin)", "responses": _responses(401, 403)},
            "post": {
                "summary": "Create a key (admin)",
                "requestBody": _body("CreateKey"),
                "responses": {"201": {"description": "created"}, **_responses(400, 401, 403)},
            },
        },
        "/api/v1/keys/{key_id}/revoke": {
            "post": {
                "summary": "Revoke a key (admin)",
                "parameters": [_path("key_id")],
                "responses": _responses(401, 403, 404),
            }
        },
        "/api/v1/keys/{key_id}/top-up": {
            "post": {
                "summary": "Add credit (admin)",
                "parameters": [_path("key_id")],
                "requestBody": _body("TopUp"),
                "responses": _responses(400, 401, 403, 404),
            }
        },
        **_company_paths(),
        "/healthz": {"get": {"summary": "Health", "responses": _responses()}},
        "/readyz": {
            "get": {
                "summary": "Readiness: 503 once the process drains (SIGTERM)",
                "responses": _responses(503),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (the admin key, unless [metrics] open)",
                "responses": {
                    **_responses(401, 403),
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
        "/": {"get": {"summary": "Root probe", "responses": _responses()}},
        "/dashboard": {
            "get": {
                "summary": "The rankings dashboard (HTML)",
                "responses": {"200": {"description": "the page"}, **_responses(401)},
            }
        },
    }
    return paths


def _op(summary: str, body: str | None = None, *params: str, status: int = 200) -> JSON:
    """One management operation (the admin key or a management key: 401/403/404)."""
    op: JSON = {"summary": summary, "responses": _responses(400, 401, 403, 404, 409)}
    if params:
        op["parameters"] = [_path(p) for p in params]
    if body is not None:
        op["requestBody"] = _body(body)
    if status != 200:
        op["responses"][str(status)] = op["responses"].pop("200")
    return op


def _company_paths() -> dict[str, JSON]:
    """Keys by id, budgets, workspaces, members, activity, audit (docs/company.md)."""
    key, budget, ws = "/api/v1/keys/{key_id}", "/api/v1/budgets/{budget_id}", "workspace_id"
    members = "/api/v1/workspaces/{workspace_id}/members"
    return {
        key: {
            "get": _op("One key", None, "key_id"),
            "patch": _op(
                "Edit a key (name, limit, limit_reset, disabled, ...)", "KeyPatch", "key_id"
            ),
            "delete": _op("Delete a key", None, "key_id"),
        },
        "/api/v1/budgets": {
            "get": _op("Budgets with their current period"),
            "post": _op("Create a budget", "BudgetSpec", status=201),
        },
        budget: {
            "get": _op("One budget", None, "budget_id"),
            "patch": _op("Change a budget's limit", "BudgetPatch", "budget_id"),
            "delete": _op("Delete a budget", None, "budget_id"),
        },
        "/api/v1/budget-alerts": {"get": _op("Budget alerts recorded (50, 80, 100%)")},
        "/api/v1/workspaces": {
            "get": _op("Workspaces"),
            "post": _op("Create a workspace (gateway admin)", "NewWorkspace", status=201),
        },
        "/api/v1/workspaces/{workspace_id}": {
            "get": _op("One workspace", None, ws),
            "delete": _op("Delete a workspace (force=true with live keys)", None, ws),
        },
        members: {
            "get": _op("A workspace's members", None, ws),
            "post": _op("Add a member", "NewMember", ws, status=201),
        },
        members + "/{member_id}": {
            "patch": _op("Change a member's role", "MemberPatch", ws, "member_id"),
            "delete": _op("Remove a member (their keys are revoked)", None, ws, "member_id"),
        },
        "/api/v1/guardrails": {"get": _op("Guardrail policies")},
        "/api/v1/guardrails/{level}/{subject}": {
            "put": _op(
                "Set a workspace's or key's guardrails", "GuardrailPolicy", "level", "subject"
            ),
            "delete": _op("Remove a guardrail policy", None, "level", "subject"),
        },
        "/api/v1/activity": {"get": _op("The last 30 UTC days by model, provider, endpoint")},
        "/api/v1/audit": {"get": _op("The audit log (read only)")},
    }


def document() -> JSON:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tokenport",
            "version": __version__,
            "description": "One API over every LLM provider: OpenAI Chat Completions, "
            "Anthropic Messages, OpenAI Responses, embeddings; keys, credit, ledger, rankings.",
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{}, {"bearer": []}, {"apiKey": []}],
        "paths": _paths(),
    }
