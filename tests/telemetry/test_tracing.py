"""OpenTelemetry traces: a span per request and one per upstream attempt, GenAI attributes,
an incoming `traceparent` honoured; in-process with the SDK's in-memory exporter, and from a
real `tokenport serve` process to an OTLP/HTTP receiver."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from _helpers import free_port, serve
from tokenport.config import TracingConfig
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.telemetry.tracing import Tracer
from tokenport.telemetry.watch import Telemetry

MESSAGES: list[Any] = [{"role": "user", "content": "hello there"}]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
BACKUP = {
    "models": [{"id": "fake-model", "slug": "fake-model", "input_price": 5.0, "output_price": 5.0}]
}


def _traced(gw: Any) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    st = gw.state
    st.telemetry = Telemetry(st.telemetry.metrics, Tracer(TracingConfig(enabled=True), exporter))
    return exporter


def _spans(exporter: InMemorySpanExporter, n: int) -> list[Any]:
    """The finished spans once there are `n`: the server span ends after the response's last
    byte has gone, a moment after the client has read it."""
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < n:
        assert time.monotonic() < deadline, exporter.get_finished_spans()
        time.sleep(0.01)
    return list(exporter.get_finished_spans())


def test_a_span_per_request_and_per_attempt_with_genai_attributes(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake, "fakeob": fake2}, fakeob_extra=BACKUP)
    exporter = _traced(gw)
    fake.push(Script(status=500))
    resp = gw.client().chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        max_tokens=40,
        temperature=0,
        extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    spans = _spans(exporter, 3)
    server = [s for s in spans if s.kind == SpanKind.SERVER]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert len(server) == 1 and len(clients) == 2
    root = server[0]
    assert root.name == "chat fake-model"
    # The caller's trace: same trace id, the caller's span as parent.
    assert format(root.context.trace_id, "032x") == TRACE_ID
    assert root.parent is not None and format(root.parent.span_id, "016x") == PARENT_ID
    a = root.attributes
    assert a is not None
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "fake-model"
    assert a["gen_ai.request.max_tokens"] == 40 and a["gen_ai.request.temperature"] == 0
    assert a["gen_ai.system"] == "fakeob" and a["gen_ai.response.model"] == "fakeob/fake-model"
    assert a["gen_ai.response.id"] == resp.id
    assert resp.usage is not None
    assert a["gen_ai.usage.input_tokens"] == resp.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == resp.usage.completion_tokens
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["tokenport.door"] == "chat" and a["tokenport.cost_usd"] > 0
    first, second = sorted(clients, key=lambda s: s.start_time or 0)
    for child in (first, second):
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id
    assert first.attributes is not None and first.attributes["gen_ai.system"] == "fakeoa"
    assert first.status.status_code == StatusCode.ERROR
    assert first.attributes["error.type"] == "UpstreamServerError"
    assert second.attributes is not None and second.attributes["gen_ai.system"] == "fakeob"
    assert second.status.status_code != StatusCode.ERROR


def test_stream_attempt_span_lasts_the_stream_and_refusals_end_their_span(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    fake.set_script(Script(text="one two three four", chunks=4, chunk_interval_ms=60))
    gw = gateway_factory({"fakeoa": fake})
    exporter = _traced(gw)
    list(
        gw.client().chat.completions.create(
            model="fakeoa/fake-model", messages=MESSAGES, stream=True
        )
    )
    spans = _spans(exporter, 2)
    root = next(s for s in spans if s.kind == SpanKind.SERVER)
    child = next(s for s in spans if s.kind == SpanKind.CLIENT)
    assert root.attributes is not None and root.attributes["tokenport.stream"] is True
    assert child.end_time is not None and child.start_time is not None
    assert child.end_time - child.start_time >= 150e6  # 3 x 60 ms after the first chunk
    assert any(e.name == "first_chunk" for e in child.events)
    exporter.clear()
    with contextlib.suppress(openai.NotFoundError):
        gw.client().chat.completions.create(model="no-such-model", messages=MESSAGES)
    (span,) = _spans(exporter, 1)
    assert span.attributes is not None and span.attributes["error.type"] == "model_not_found"


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(body)
        type(self).got.append(msg)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.mark.slow  # starts `tokenport serve`
def test_a_served_gateway_exports_over_otlp_http(tmp_path: Path, fake: FakeUpstream) -> None:
    _Receiver.got = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}/v1/traces"
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\n[local]\nenabled = false\n'
        f'[tracing]\nenabled = true\nendpoint = "{endpoint}"\nservice_name = "tp-test"\n'
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    port = free_port()
    proc = serve(cfg, port, tmp_path / "gw.log", env)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        client.chat.completions.create(
            model="fakeoa/fake-model",
            messages=MESSAGES,
            extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
        deadline = time.monotonic() + 15
        spans: list[Any] = []
        while len(spans) < 2:
            assert time.monotonic() < deadline, "no spans reached the OTLP receiver"
            time.sleep(0.1)
            spans = [
                (rs, span)
                for msg in _Receiver.got
                for rs in msg.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        receiver.shutdown()
    service = {
        a.value.string_value
        for rs, _ in spans
        for a in rs.resource.attributes
        if a.key == "service.name"
    }
    assert service == {"tp-test"}
    by_kind = {span.kind: span for _, span in spans}
    root = by_kind[2]  # SPAN_KIND_SERVER
    child = by_kind[3]  # SPAN_KIND_CLIENT
    assert root.trace_id.hex() == TRACE_ID and root.parent_span_id.hex() == PARENT_ID
    assert child.parent_span_id == root.span_id
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["gen_ai.request.model"].string_value == "fakeoa/fake-model"
    assert attrs["gen_ai.usage.output_tokens"].int_value > 0
