"""What a running gateway tells the outside: Prometheus metrics and OpenTelemetry traces.

The request pipeline reports to one `Watch` per request (`watch.py`); `Telemetry` hands
them out and fans each report out to the metrics (`metrics.py`) and the tracer
(`tracing.py`), either of which may be off.
"""
