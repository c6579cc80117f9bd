"""The psycopg 3 and asyncpg steps of the client matrix (tests/integration/postgres-clients.test.ts).

One session through the gateway, every step a CI job's Python program would take, one JSON result on
stdout. Usage: matrix.py psycopg|asyncpg. The token comes in PGPASSWORD, as libpq and asyncpg read it.
"""
import asyncio
import datetime
import decimal
import json
import os
import sys
import threading
import time
import uuid

TYPES = (
    "SELECT {p}::int4, {p}::int8, {p}::numeric, {p}::text, {p}::bytea, {p}::timestamptz, {p}::uuid,"
    " {p}::jsonb, {p}::int4[], {p}::text[]"
)
DOC = {"a": [1, 2, {"b": None}], "c": "d"}
WHEN = datetime.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=datetime.timezone.utc)
VALUES = [2147483647, 9223372036854775807, decimal.Decimal("12345678901234567890.123456789"), "héllo wörld ✓",
          b"\xde\xad\xbe\xef\x00", WHEN, uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]
TAIL = [[1, 2, 3], ["a", "b c", "d,e"]]


def row_of(r, doc):
    when = r[5].astimezone(datetime.timezone.utc)
    return {
        "int": r[0], "bigint": str(r[1]), "numeric": str(r[2]), "text": r[3], "bytea": bytes(r[4]).hex(),
        "timestamptz": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "uuid": str(r[6]), "jsonb": doc(r[7]), "intArray": list(r[8]), "textArray": list(r[9]),
    }


def wait_for_sleep(watch, pid):
    """Bounded: until the target reports the session inside pg_sleep."""
    for _ in range(1000):
        if watch(pid):
            return True
        time.sleep(0.01)
    return False


def run_psycopg():
    import psycopg
    from psycopg.types.json import Jsonb

    dsn = os.environ["TG_CLIENT_DSN"]
    conn = psycopg.connect(dsn + " application_name=psycopg-matrix", autocommit=True)
    watcher = psycopg.connect(dsn, autocommit=True)
    out = {"client": "psycopg", "libpq": psycopg.pq.version()}
    cur = conn.cursor()
    out["pid"] = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
    out["applicationName"] = cur.execute("SELECT current_setting('application_name')").fetchone()[0]
    cur.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text)")

    params = VALUES + [Jsonb(DOC)] + TAIL
    text = conn.cursor().execute(TYPES.format(p="%s"), params).fetchone()
    binary = conn.cursor(binary=True).execute(TYPES.format(p="%b"), params).fetchone()
    out["types"] = {"text": row_of(text, lambda d: d), "binary": row_of(binary, lambda d: d)}

    out["prepared"] = [cur.execute("SELECT %s::int * 2", (i,), prepare=True).fetchone()[0] for i in (1, 2, 3)]

    cur.execute("BEGIN")
    cur.execute("INSERT INTO items VALUES (1, 'lost')")
    failed = aborted = ""
    try:
        cur.execute("SELECT 1/0")
    except psycopg.Error as e:
        failed = e.sqlstate
    try:
        cur.execute("SELECT 1")
    except psycopg.Error as e:
        aborted = e.sqlstate
    cur.execute("ROLLBACK")
    left = cur.execute("SELECT count(*) FROM items").fetchone()[0]
    recovered = cur.execute("SELECT 1").fetchone()[0]
    out["failedTransaction"] = {"error": failed, "aborted": aborted, "rowsAfterRollback": left, "recovered": recovered}

    with conn.pipeline():
        for i in range(1, 101):
            cur.execute("INSERT INTO items VALUES (%s, %s)", (i, f"batch-{i}"))
    out["batch"] = {"mode": "pipeline", "rows": cur.execute("SELECT count(*) FROM items").fetchone()[0]}

    with cur.copy("COPY items (id, name) FROM STDIN") as copy:
        for i in range(1001, 2001):
            copy.write_row((i, f"copied-{i}"))
    copied_in = cur.rowcount
    data = bytearray()
    with cur.copy("COPY (SELECT id, name FROM items WHERE id > 1000 ORDER BY id) TO STDOUT") as copy:
        for chunk in copy:
            data += chunk
    lines = data.decode().rstrip("\n").split("\n")
    out["copy"] = {"in": copied_in, "out": len(lines), "firstOut": lines[0], "lastOut": lines[-1]}

    rows = cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 100000) g").fetchall()
    out["large"] = {"rows": len(rows), "sum": sum(r[0] for r in rows)}

    result = {}

    def sleep():
        try:
            conn.execute("SELECT pg_sleep(30)")
            result["sqlstate"] = "finished"
        except psycopg.Error as e:
            result["sqlstate"] = e.sqlstate

    sleeper = threading.Thread(target=sleep)
    sleeper.start()
    saw = wait_for_sleep(lambda pid: watcher.execute(
        "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = %s AND wait_event = 'PgSleep'", (pid,)).fetchone()[0], out["pid"])
    request_ok, error = True, None
    try:
        conn.cancel_safe()  # libpq 17: the cancel request goes encrypted, like the connection
    except Exception as e:  # noqa: BLE001 - the message is the result
        request_ok, error = False, str(e)
    sleeper.join(60)
    after = cur.execute("SELECT 1").fetchone()[0]
    out["cancel"] = {"sawSleep": saw, "requestOk": request_ok, "sqlstate": result.get("sqlstate", "still running"), "after": after}
    if error:
        out["cancel"]["error"] = error
    conn.close()
    watcher.close()
    return out


async def run_asyncpg():
    import asyncpg

    # Default settings: the DSN names only where to go; TLS is asyncpg's default 'prefer'.
    dsn = f"postgresql://ci@{os.environ['TG_CLIENT_HOST']}:{os.environ['TG_CLIENT_PORT']}/app"
    conn = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    out = {"client": "asyncpg"}
    out["pid"] = await conn.fetchval("SELECT pg_backend_pid()")
    await conn.execute("SET application_name = 'asyncpg-matrix'")
    out["applicationName"] = await conn.fetchval("SELECT current_setting('application_name')")
    await conn.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text)")

    placeholders = iter(range(1, 11))
    sql = TYPES.replace("{p}", "${}").format(*placeholders)
    binary = await conn.fetchrow(sql, *VALUES, json.dumps(DOC), *TAIL)
    out["types"] = {"binary": row_of(binary, json.loads)}

    stmt = await conn.prepare("SELECT $1::int * 2")
    out["prepared"] = [await stmt.fetchval(i) for i in (1, 2, 3)]

    tr = conn.transaction()
    await tr.start()
    await conn.execute("INSERT INTO items VALUES (1, 'lost')")
    failed = aborted = ""
    try:
        await conn.execute("SELECT 1/0")
    except asyncpg.PostgresError as e:
        failed = e.sqlstate
    try:
        await conn.fetchval("SELECT 1")
    except asyncpg.PostgresError as e:
        aborted = e.sqlstate
    await tr.rollback()
    left = await conn.fetchval("SELECT count(*) FROM items")
    out["failedTransaction"] = {"error": failed, "aborted": aborted, "rowsAfterRollback": left, "recovered": await conn.fetchval("SELECT 1")}

    await conn.executemany("INSERT INTO items VALUES ($1, $2)", [(i, f"batch-{i}") for i in range(1, 101)])
    out["batch"] = {"mode": "executemany", "rows": await conn.fetchval("SELECT count(*) FROM items")}

    status = await conn.copy_records_to_table("items", records=[(i, f"copied-{i}") for i in range(1001, 2001)], columns=["id", "name"])
    data = bytearray()

    async def collect(chunk):
        data.extend(chunk)

    await conn.copy_from_query("SELECT id, name FROM items WHERE id > 1000 ORDER BY id", output=collect)
    lines = data.decode().rstrip("\n").split("\n")
    out["copy"] = {"in": int(status.split()[-1]), "out": len(lines), "firstOut": lines[0], "lastOut": lines[-1]}

    rows = await conn.fetch("SELECT g, md5(g::text) FROM generate_series(1, 100000) g")
    out["large"] = {"rows": len(rows), "sum": sum(r[0] for r in rows)}

    sleeper = asyncio.ensure_future(conn.execute("SELECT pg_sleep(30)"))
    saw = False
    for _ in range(1000):
        saw = await watcher.fetchval(
            "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'", out["pid"])
        if saw:
            break
        await asyncio.sleep(0.01)
    # asyncpg's cancel is task cancellation: it sends the CancelRequest and waits for the server's answer.
    sleeper.cancel()
    try:
        await sleeper
        outcome = "finished"
    except asyncio.CancelledError:
        outcome = "CancelledError"  # the server's 57014 is in the recording
    out["cancel"] = {"sawSleep": saw, "requestOk": True, "sqlstate": outcome, "after": await conn.fetchval("SELECT 1")}
    await conn.close()
    await watcher.close()
    return out


if __name__ == "__main__":
    which = sys.argv[1]
    result = run_psycopg() if which == "psycopg" else asyncio.run(run_asyncpg())
    print(json.dumps(result))
