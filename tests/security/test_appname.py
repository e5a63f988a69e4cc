"""App names (`X-Title` / `HTTP-Referer`) are capped and normalised, in the function and in
the rankings read from a ledger that stored them raw."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from tokenport.analytics.service import compute, parse_query
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog
from tokenport.ledger import LedgerRecord, open_store
from tokenport.security.appname import MAX_APP_CHARS, normalize_app


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (None, None),
        ("", None),
        ("   \t\n ", None),
        ("Cline", "Cline"),
        ("  My   App\r\nX-Injected: 1 ", "My App X-Injected: 1"),
        ("https://www.Example.com:8443/path/to/page?user=12345#frag", "example.com"),
        ("http://app.example.org", "app.example.org"),
        ("https://[::1", "https://[::1"),  # not a URL after all: kept as text
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),  # NFKC
        ("evil\u202etxt.exe", "evil txt.exe"),  # a bidi override is not kept
        ("zero\u200bwidth", "zero width"),
        ("\x00\x07bell", "bell"),
        ("a" * 1_000_000, "a" * MAX_APP_CHARS),
        ("é" * 100, "é" * MAX_APP_CHARS),
    ],
)
def test_normalize_app(raw: str | None, want: str | None) -> None:
    assert normalize_app(raw) == want


def test_every_name_is_short_printable_and_stable() -> None:
    for raw in ("x" * 70 + " y", "\u0301" * 2000, "🙂" * 80, "Ab\u0000c"):
        name = normalize_app(raw)
        assert name is None or (len(name) <= MAX_APP_CHARS and name.isprintable())
        assert normalize_app(name) == name  # normalising twice changes nothing


def test_rankings_of_a_ledger_with_huge_app_names_stay_small(
    tmp_path: Path, catalog: Catalog
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = open_store(url)
    store.migrate()
    now = time.time()
    store.insert_batch(
        [
            LedgerRecord(
                id=f"r{i}", ts=now - 60, model_requested="deepseek/deepseek-chat", status="ok",
                model_served="deepseek/deepseek-chat", provider="deepseek",
                app=f"{i:03d}" + "A" * 16_000, prompt_tokens=10, completion_tokens=1,
            )
            for i in range(300)
        ]
    )  # fmt: skip
    store.close()
    source = RollupSource(url)
    try:
        result = compute(parse_query({"by": "app", "limit": "100"}), source, catalog)
    finally:
        source.close()
    body = msgspec.json.encode(result)
    assert len(body) < 100_000, len(body)  # was 3.2 MB with names stored as sent
    rows = result.sections["app"].rows
    assert rows and all(len(r.name) <= MAX_APP_CHARS for r in rows)
