"""Running tokenport for a company (`security/workspaces.py`, `security/budgets.py`):
workspaces and their members, budgets that reset, and the audit log. Area letter: w.

`w001_workspaces` is the upgrade of an existing gateway: it creates the `default`
workspace and moves every key already in `api_keys` into it, so a single-team install sees
no change. Money is integer nano-USD, as for keys.
"""

from __future__ import annotations

from tokenport.db.migration import Migration

DEFAULT_WORKSPACE = "default"

WORKSPACES = Migration(
    "w001_workspaces",
    (
        """CREATE TABLE workspaces (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            deleted_at DOUBLE PRECISION
        )""",
        f"INSERT INTO workspaces (id, name, created_at) VALUES ('{DEFAULT_WORKSPACE}', "
        "'Default', 0)",
        """CREATE TABLE members (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            email TEXT NOT NULL,
            name TEXT,
            role TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            UNIQUE (workspace_id, email)
        )""",
        # Which workspace (and member) owns each key; what a key may do ('inference' or
        # 'management'); OpenRouter's key fields (`disabled`, `limit_reset`, ...).
        f"ALTER TABLE api_keys ADD COLUMN workspace_id TEXT NOT NULL DEFAULT '{DEFAULT_WORKSPACE}'",
        "ALTER TABLE api_keys ADD COLUMN member_id TEXT",
        "ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'inference'",
        "ALTER TABLE api_keys ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE api_keys ADD COLUMN limit_reset TEXT",
        "ALTER TABLE api_keys ADD COLUMN include_byok_in_limit INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE api_keys ADD COLUMN updated_at DOUBLE PRECISION",
        # Today's keys move into the default workspace (the column default already put them
        # there; this statement says so in the recorded migration).
        f"UPDATE api_keys SET workspace_id = '{DEFAULT_WORKSPACE}'",
        "CREATE INDEX api_keys_workspace ON api_keys (workspace_id)",
    ),
)

# A budget caps one subject's spend per period: `level` is 'key', 'member' or 'workspace',
# `subject` that key's, member's or workspace's id. Usage is one row per (budget, period
# start), so a period rolls over by starting a new row: nothing is reset in place, and a
# request admitted before the boundary is charged to the row of the period it was admitted
# in. `budget_holds` are the in-flight reservations per holder, swept like `key_holds`.
BUDGETS = Migration(
    "w002_budgets",
    (
        """CREATE TABLE budgets (
            id TEXT PRIMARY KEY,
            workspace_id TEXT NOT NULL,
            level TEXT NOT NULL,
            subject TEXT NOT NULL,
            period TEXT NOT NULL,
            limit_nano BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            UNIQUE (level, subject, period)
        )""",
        """CREATE TABLE budget_usage (
            budget_id TEXT NOT NULL,
            period_start BIGINT NOT NULL,
            usage_nano BIGINT NOT NULL DEFAULT 0,
            reserved_nano BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (budget_id, period_start)
        )""",
        """CREATE TABLE budget_holds (
            holder TEXT NOT NULL,
            budget_id TEXT NOT NULL,
            period_start BIGINT NOT NULL,
            reserved_nano BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (holder, budget_id, period_start)
        )""",
        # One row per budget, period and threshold crossed (50, 80, 100 percent): recorded
        # once whichever process charged the crossing request, then sent by webhook.
        """CREATE TABLE budget_alerts (
            budget_id TEXT NOT NULL,
            period_start BIGINT NOT NULL,
            threshold INTEGER NOT NULL,
            usage_nano BIGINT NOT NULL,
            limit_nano BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            sent_at DOUBLE PRECISION,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
            PRIMARY KEY (budget_id, period_start, threshold)
        )""",
    ),
)

# Every admin action: who, what, on what, the object before and after (JSON), when.
# Append-only: nothing in tokenport updates or deletes a row.
AUDIT = Migration(
    "w003_audit_log",
    (
        """CREATE TABLE audit_log (
            id TEXT PRIMARY KEY,
            at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            workspace_id TEXT,
            action TEXT NOT NULL,
            target TEXT,
            before TEXT,
            after TEXT
        )""",
        "CREATE INDEX audit_log_workspace ON audit_log (workspace_id, at)",
    ),
)

# A guardrail policy (`security/guardrails.py`) per workspace or key, as JSON.
GUARDRAILS = Migration(
    "w004_guardrails",
    (
        """CREATE TABLE guardrails (
            level TEXT NOT NULL,
            subject TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            policy TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (level, subject)
        )""",
    ),
)
