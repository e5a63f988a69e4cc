from __future__ import annotations

from tokenport.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
)
from tokenport.providers.http import error_for_status, retry_after_seconds
from tokenport.redaction import redact


def test_own_key_is_removed_whatever_its_format() -> None:
    key = "zhipu.9f8e7d6c5b4a"  # not an sk- key, so only the verbatim strip catches it
    err = error_for_status("zai", 401, f'{{"error": "bad key {key}"}}'.encode(), {}, (key,))
    assert isinstance(err, UpstreamAuthError)
    assert key not in err.message and "[REDACTED]" in err.message


def test_patterns_redacted() -> None:
    text = redact("Authorization: Bearer abc.def sk-proj-ABCDEFGHIJKLMNOP")
    assert "abc.def" not in text and "ABCDEFGHIJKLMNOP" not in text


def test_status_classes_and_retry_after() -> None:
    assert isinstance(error_for_status("p", 429, b"", {"Retry-After": "3"}), UpstreamRateLimited)
    assert error_for_status("p", 429, b"", {"Retry-After": "3"}).retry_after == 3.0
    assert isinstance(error_for_status("p", 503, b"", {}), UpstreamServerError)
    bad = error_for_status("p", 422, b"nope", {})
    assert isinstance(bad, UpstreamBadRequest) and not bad.retryable
    assert retry_after_seconds({"Retry-After": "soon"}) is None
