"""A cascade pool's request, call by call: cheap first, verify, escalate only untrusted answers.

`Cascade(gateway, plan, ...)` carries out a `routing.cascade_plan.CascadePlan`:

1. unless the plan skips it, each chain model is called in turn (never streamed: the answer
   is held until verified); after each, the trained trust model predicts the gain the strong
   model would add (`routing.auto.cascade.stage_vector`, `Stage.gain`);
2. an answer predicted at or under the threshold is trusted, unless a runtime verifier the
   pool turned on objects: `logprobs` (mean token logprob under `logprob_floor`),
   `agreement` in a one-model chain (a second sample reaches another conclusion),
   `self_check` (the cheap model says "no");
3. otherwise the strong model answers. If the strong model fails, a held cheap answer is
   served instead (verdict "fallback"); if every call fails, the request fails.

Every call goes through the gateway's fallback loop (`Gateway.call` / `open_call`) and is
listed in the request's one ledger record (`attempts`, each with its role and cost); the
record's cost and tokens are the sum over calls. A stream waits for the verdict: a trusted
cheap answer is replayed from memory (`held.py`), an escalation streams the strong model
live; `held_ms` says how long the client waited before the first byte.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from tokenport.cascade.held import held_stream
from tokenport.errors import AllProvidersFailed, TokenportError
from tokenport.gateway import (
    ClientDisconnected,
    Gateway,
    OpenStream,
    Prior,
    RequestContext,
    Served,
    is_cut,
    shutting_down,
)
from tokenport.routing.auto import sandbox, verify
from tokenport.routing.auto.cascade import Answer, stage_vector
from tokenport.routing.auto.checks import code_blocks
from tokenport.routing.autoroute import AutoRouting
from tokenport.routing.cascade_plan import CascadePlan
from tokenport.values import Attempt, ChatRequest, Message

SELF_CHECK_TOKENS = 5


class CallNote(msgspec.Struct, frozen=True):
    role: str  # "cheap", "sample", "self_check", "strong"
    model: str  # the gateway model
    ok: bool
    cost: float = 0.0
    latency_ms: float = 0.0


class Cascade:
    def __init__(
        self,
        gateway: Gateway,
        plan: CascadePlan,
        request: ChatRequest,
        ctx: RequestContext,
        auto: AutoRouting | None = None,
    ) -> None:
        self.gw, self.plan, self.request, self.ctx, self.auto = gateway, plan, request, ctx, auto
        self.attempts: list[Attempt] = []
        self.calls: list[CallNote] = []
        self.spent: list[tuple[str, Served]] = []  # (role, answer) of every call that answered
        self.verdict = "escalated"
        self.reason = ""
        self.gain: float | None = None
        self.answer: Served | None = None
        self.answered_by = plan.strong  # router model
        self.held_ms: float | None = None
        self._overhead_s = plan.plan_ms / 1000.0
        self._overhead_cpu_s = plan.plan_cpu_ms / 1000.0
        self._client_logprobs = bool(request.logprobs)
        self._last_error: TokenportError | None = None
        self._settling = False  # from here on the gateway records the request, not us

    # -- the two ways out ----------------------------------------------------------------

    async def complete(self) -> Served:
        try:
            trusted = await self._verify_chain()
            if trusted is not None:
                return await self._settle(trusted)
            strong = await self._call("strong", self.plan.strong, self._base())
            if strong is not None:
                return await self._settle(strong)
            return await self._settle(await self._fallback())
        except asyncio.CancelledError as exc:
            raise await self._cancelled(exc) from None

    async def open_stream(self) -> OpenStream:
        try:
            trusted = await self._verify_chain()
            if trusted is None:
                opened = await self._open_strong()
                if opened is not None:
                    self.held_ms = opened.ttft_ms
                    return opened
                trusted = await self._fallback()
            self._settled_on(trusted)
            self.held_ms = self.ctx.elapsed_ms()
            return held_stream(
                self.request,
                self.ctx,
                trusted,
                self.attempts,
                self._prior(trusted),
                self._client_logprobs,
            )
        except asyncio.CancelledError as exc:
            raise await self._cancelled(exc) from None

    # -- the chain -----------------------------------------------------------------------

    async def _verify_chain(self) -> Served | None:
        """The trusted cheap answer, or None to escalate (`self.reason` says why)."""
        plan, meta = self.plan, self.plan.meta
        if plan.skip:
            self.verdict, self.reason = (
                "skipped",
                "the prompt router expects the cheap model to fail",
            )
            return None
        answers: list[Answer] = []
        served: list[Served] = []
        for k, model in enumerate(meta.chain):
            got = await self._call(
                "cheap", model, self._base(logprobs="logprobs" in plan.verifiers)
            )
            if got is None:
                self.reason = f"the cheap call to {plan.gateway(model)} failed"
                return None
            text, finish = _text(got)
            code = None
            if meta.code and "code" in plan.verifiers and code_blocks(text):
                code = await sandbox.arun(text, plan.prompt, plan.code_time_limit_s)
            answers.append(Answer(model, text, finish, code))
            served.append(got)
            t0, c0 = time.perf_counter(), time.thread_time()
            pick, x = stage_vector(meta, k, plan.prompt, answers, plan.quality)
            self.gain = meta.stages[k].gain(x)
            self._overhead_s += time.perf_counter() - t0
            self._overhead_cpu_s += time.thread_time() - c0
            if self.gain > plan.threshold:
                self.reason = (
                    f"predicted gain {self.gain:.3f} above the threshold {plan.threshold:.3f}"
                )
                continue
            objection = await self._runtime_checks(answers[pick], served[pick])
            if objection is not None:
                self.reason = objection
                return None
            self.verdict = "trusted"
            self.reason = (
                f"predicted gain {self.gain:.3f} at or under the threshold {plan.threshold:.3f}"
            )
            self.answered_by = answers[pick].model
            return served[pick]
        return None

    async def _runtime_checks(self, answer: Answer, served: Served) -> str | None:
        plan = self.plan
        if "logprobs" in plan.verifiers:
            choice = served.response.choices[0] if served.response.choices else None
            mean = verify.logprob_mean(choice.logprobs if choice else None)
            if mean is not None and mean < plan.logprob_floor:
                return f"mean token logprob {mean:.2f} under the floor {plan.logprob_floor:g}"
        if "agreement" in plan.verifiers and len(plan.meta.chain) == 1:
            sample = msgspec.structs.replace(
                self._base(), temperature=plan.sample_temperature, seed=None
            )
            other = await self._call("sample", answer.model, sample)
            if other is not None:
                agree = verify.agreement(plan.prompt, answer.text, _text(other)[0])
                if agree < 0.5:
                    return f"a second sample disagrees (agreement {agree:.2f})"
        if "self_check" in plan.verifiers:
            ask = ChatRequest(
                model=plan.gateway(answer.model),
                messages=[
                    Message(role="user", content=verify.self_check_prompt(plan.prompt, answer.text))
                ],
                max_tokens=SELF_CHECK_TOKENS,
                temperature=0.0,
                door=self.request.door,
            )
            reply = await self._call("self_check", answer.model, ask)
            if reply is not None and verify.self_check_verdict(_text(reply)[0]) is False:
                return "the cheap model's self-check says its answer is wrong"
        return None

    # -- calls ---------------------------------------------------------------------------

    def _base(self, logprobs: bool = False) -> ChatRequest:
        """The client's request as one call sends it: never streamed (held to verify)."""
        return msgspec.structs.replace(
            self.request,
            stream=False,
            stream_options=None,
            logprobs=True if logprobs or self.request.logprobs else None,
        )

    async def _call(self, role: str, router_model: str, request: ChatRequest) -> Served | None:
        model = self.plan.gateway(router_model)
        request = msgspec.structs.replace(request, model=model)
        start, t0 = len(self.attempts), time.perf_counter()
        try:
            got = await self.gw.call(
                request, self.ctx, self.plan.routes.get(model, []), self.attempts
            )
        except TokenportError as exc:
            self._last_error = exc
            self._mark(start, role, None)
            self.calls.append(CallNote(role, model, False, 0.0, _ms(t0)))
            return None
        self._mark(start, role, got.cost)
        self.calls.append(CallNote(role, model, True, got.cost, _ms(t0)))
        self.spent.append((role, got))
        return got

    async def _open_strong(self) -> OpenStream | None:
        model = self.plan.gateway(self.plan.strong)
        request = msgspec.structs.replace(self.request, model=model)
        start, t0 = len(self.attempts), time.perf_counter()
        try:
            opened = await self.gw.open_call(
                request, self.ctx, self.plan.routes.get(model, []), self.attempts
            )
        except TokenportError as exc:
            self._last_error = exc
            self._mark(start, "strong", None)
            self.calls.append(CallNote("strong", model, False, 0.0, _ms(t0)))
            return None
        self._mark(start, "strong", None)  # priced when the stream ends (`Gateway._settle`)
        self._settling = True
        self.calls.append(CallNote("strong", model, True, 0.0, _ms(t0)))
        self.answered_by = self.plan.strong
        opened.prior = self._prior(None)
        return opened

    def _mark(self, start: int, role: str, cost: float | None) -> None:
        for i in range(start, len(self.attempts)):
            a = self.attempts[i]
            ok = a.status == "ok"
            self.attempts[i] = msgspec.structs.replace(a, role=role, cost=cost if ok else 0.0)

    def _strip_logprobs(self, served: Served) -> None:
        """Logprobs asked for the verifier, not by the client, stay out of the answer."""
        if not self._client_logprobs:
            for choice in served.response.choices:
                choice.logprobs = None

    # -- settling ------------------------------------------------------------------------

    async def _fallback(self) -> Served:
        """The strong model failed: serve the last cheap answer held, else fail the request."""
        cheap = [s for role, s in self.spent if role == "cheap"]
        if not cheap:
            last = self._last_error
            exc = last if isinstance(last, AllProvidersFailed) or last is None else None
            exc = exc or AllProvidersFailed(self.attempts, last)
            await self.fail(exc)
            raise exc
        self.verdict = "fallback"
        self.reason = f"the strong model failed ({self.reason or 'escalated'}); the cheap answer"
        self.answered_by = self.plan.chain[len(cheap) - 1]
        return cheap[-1]

    def _prior(self, answer: Served | None) -> Prior:
        prior = Prior()
        for _, s in self.spent:
            if s is not answer:
                prior.add(s.usage, s.cost)
        return prior

    def _settled_on(self, answer: Served) -> None:
        self._settling = True
        self.answer = answer
        self._strip_logprobs(answer)
        if self.auto is not None:
            self.auto.answered(self.ctx.gen_id, self.answered_by)

    async def _settle(self, answer: Served) -> Served:
        self._settled_on(answer)
        return await self.gw.settle(
            self.request, self.ctx, answer, self.attempts, self._prior(answer)
        )

    async def _cancelled(self, exc: asyncio.CancelledError) -> BaseException:
        """What to raise for a cancelled cascade, having recorded what its calls spent: a
        draining process's cut ends in a recorded 503, as a plain request's does; a client
        gone is recorded in the background, past the cancellation."""
        if self._settling:
            return exc
        if is_cut(exc):
            cut = shutting_down()
            await self.fail(cut)
            return cut
        self._record_gone()
        return exc

    def _record_gone(self) -> None:
        gone = ClientDisconnected("client disconnected during the cascade")
        self.gw.spawn(
            self.gw.fail(
                self.request,
                self.ctx,
                self.attempts,
                gone,
                self._prior(None),
                stream=self.request.stream,
            )
        )

    async def fail(self, exc: TokenportError) -> None:
        self._settling = True
        await self.gw.fail(
            self.request,
            self.ctx,
            self.attempts,
            exc,
            self._prior(None),
            stream=self.request.stream,
        )

    # -- what the client is told ---------------------------------------------------------

    @property
    def overhead_ms(self) -> float:
        return self._overhead_s * 1000.0

    def summary(self, requested: str) -> dict[str, Any]:
        plan = self.plan
        out: dict[str, Any] = {
            "requested": requested,
            "mode": "cascade",
            "model": plan.gateway(self.answered_by),
            "router_model": self.answered_by,
            "verdict": self.verdict,
            "reason": self.reason,
            "predicted_gain": None if self.gain is None else round(self.gain, 4),
            "threshold": round(plan.threshold, 4),
            "calls": [msgspec.structs.asdict(c) for c in self.calls],
            "verifiers": {
                "learned": [
                    v for v in plan.meta.verifiers if v != "code" or "code" in plan.verifiers
                ],
                "runtime": sorted(plan.verifiers - {"code"}),
            },
            "overhead_ms": round(self.overhead_ms, 3),
            "overhead_cpu_ms": round(self._overhead_cpu_s * 1000.0, 3),
            "router_version": plan.router_version,
        }
        if self.held_ms is not None:
            out["held_ms"] = round(self.held_ms, 1)
        return out

    def headers(self) -> dict[str, str]:
        out = {
            "X-Tokenport-Auto-Model": self.plan.gateway(self.answered_by),
            "X-Tokenport-Auto-Mode": "cascade",
            "X-Tokenport-Auto-Verdict": self.verdict,
            "X-Tokenport-Auto-Reason": self.reason.encode("ascii", "replace").decode(),
            "X-Tokenport-Auto-Calls": str(len(self.calls)),
            "X-Tokenport-Auto-Quality": f"{self.plan.quality.get(self.answered_by, 0.0):.4f}",
        }
        if self.gain is not None:
            out["X-Tokenport-Auto-Gain"] = f"{self.gain:.4f}"
        if self.held_ms is not None:
            out["X-Tokenport-Auto-Held-Ms"] = f"{self.held_ms:.1f}"
        return out


def _text(served: Served) -> tuple[str, str | None]:
    choices = served.response.choices
    if not choices:
        return "", None
    content = choices[0].message.content
    return (content if isinstance(content, str) else ""), choices[0].finish_reason


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
