"""`tokenport export`: the ledger (`requests`) and its hourly rollups, to CSV or Parquet.

Rows are streamed in batches (a server-side cursor on PostgreSQL), so a ledger of millions
of requests exports in constant memory. Parquet needs pyarrow, imported only when asked for;
column types come from the database's own declarations.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from tokenport.db import Database
from tokenport.errors import ConfigError

Format = Literal["csv", "parquet"]
FORMATS = ("csv", "parquet")
TABLES = {"requests": "ts", "rollup_hourly": "hour"}  # table -> its time column
_BATCH = 20_000
Progress = Callable[[str, int], None]


class Exported(msgspec.Struct):
    table: str
    path: str
    rows: int


def export(
    url: str,
    out: Path,
    fmt: Format,
    *,
    since: float | None = None,
    until: float | None = None,
    progress: Progress | None = None,
) -> list[Exported]:
    """Write one file per table into `out`; return what was written."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    write = _parquet_writer() if fmt == "parquet" else _write_csv
    db = Database(url)
    if not db.exists():
        raise ConfigError(f"No ledger database at {url}.")
    out.mkdir(parents=True, exist_ok=True)
    done: list[Exported] = []
    try:
        for table, column in TABLES.items():
            if not db.table_exists(table):
                continue
            types = _column_types(db, table)
            path = out / f"{table}.{fmt}"
            batches = _batches(db, table, column, since, until)
            rows = write(path, types, batches, _reporter(progress, table))
            done.append(Exported(table, str(path), rows))
    finally:
        db.close()
    return done


def _reporter(progress: Progress | None, table: str) -> Callable[[int], None]:
    def report(rows: int) -> None:
        if progress is not None:
            progress(table, rows)

    return report


def _column_types(db: Database, table: str) -> list[tuple[str, str]]:
    if db.dialect == "sqlite":
        return [(r[1], str(r[2]).lower()) for r in db.rows(f"PRAGMA table_info({table})")]
    sql = (
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND table_schema = ANY(current_schemas(false)) ORDER BY ordinal_position"
    )
    return [(r[0], str(r[1]).lower()) for r in db.rows(sql, (table,))]


def _batches(
    db: Database, table: str, column: str, since: float | None, until: float | None
) -> Iterator[Sequence[tuple[Any, ...]]]:
    p = db.param
    where: list[str] = []
    params: list[float] = []
    if since is not None:
        # An hour counts if it overlaps the range, as in the rollup reports.
        where.append(f"{column} >= {p}")
        params.append((since // 3600) * 3600 if column == "hour" else since)
    if until is not None:
        where.append(f"{column} < {p}")
        params.append(until)
    sql = f"SELECT * FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
    yield from db.stream(sql, params, _BATCH)


def _write_csv(
    path: Path,
    types: list[tuple[str, str]],
    batches: Iterator[Sequence[tuple[Any, ...]]],
    progress: Callable[[int], object],
) -> int:
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([name for name, _ in types])
        for batch in batches:
            writer.writerows(batch)
            rows += len(batch)
            progress(rows)
    return rows


def _parquet_writer() -> Callable[..., int]:
    try:
        # Through importlib: pyarrow is optional and ships no type information.
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigError(
            "Parquet export needs pyarrow, which is not installed: pip install pyarrow "
            "(or export --format csv)."
        ) from None

    def arrow_type(declared: str) -> Any:
        if "bool" in declared:
            return pa.bool_()
        if "int" in declared:
            return pa.int64()
        if "double" in declared or "real" in declared or "float" in declared:
            return pa.float64()
        return pa.string()

    def write(
        path: Path,
        types: list[tuple[str, str]],
        batches: Iterator[Sequence[tuple[Any, ...]]],
        progress: Callable[[int], object],
    ) -> int:
        schema = pa.schema([(name, arrow_type(t)) for name, t in types])
        rows = 0
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in batches:
                columns = list(zip(*batch, strict=True))
                arrays = [
                    pa.array(_coerce(col, field.type == pa.bool_()), type=field.type)
                    for col, field in zip(columns, schema, strict=True)
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                rows += len(batch)
                progress(rows)
        return rows

    return write


def _coerce(values: Sequence[Any], boolean: bool) -> list[Any]:
    # SQLite hands booleans back as 0/1.
    return [None if v is None else bool(v) for v in values] if boolean else list(values)
