"""Runs every migration and every query file of sql/ through chdb (current ClickHouse, in-process)
on a small known data set, and checks each result against a brute-force Python computation from
the metric definitions (sql/README.md). When the ClickHouse 18.16 server of the Go tests
answers (SPACEPULSE_CLICKHOUSE_ADDR, default 127.0.0.1:9000; gate SPACEPULSE_INTEGRATION: unset =
use it if it answers, 0 = never, 1 = must), the same files run there too and must give the same
rows.

Run: python3 -m pytest sql/tests -q
"""

import datetime as dt
import glob
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

try:
    import chdb.session as chdb_session
except ImportError as err:  # fail, never skip: CI must run these
    raise ImportError("these tests need chdb, current ClickHouse in-process: pip install chdb") from err

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MIGRATIONS = sorted(glob.glob(os.path.join(SQL_DIR, "migrations", "*.sql")))
QUERIES = {os.path.basename(p)[:-4]: p for p in glob.glob(os.path.join(SQL_DIR, "queries", "*.sql"))}

BUSINESS = {"space_ended", "auth", "geo_blocked"}  # schemas.BusinessCodes (sql/businesscodes_test.go checks)
BUSINESS_SQL = ", ".join("'%s'" % c for c in sorted(BUSINESS))
MIN_ATTEMPTS = 25
T0 = 1723507200  # 2024-08-13T00:00:00Z
SPACE = "1YqJDqWLyEMGV"
# {cutover} on a fresh database, as warehouse.Migrate sets it: the views count every row, the
# backfills of migration 0005 none.
FRESH_CUTOVER = "toDateTime(0, 'UTC')"
ROLLUPS = ("space_second_counts", "space_minute_counts", "join_latency_minute_counts")
COLUMNS = ("event_id, kind, ts, ts_ms, space_id, session_id, user_id, role, client, app_version, "
           "region, country, join_ms, attempt, reason, phase, code, http_status, kafka_partition, kafka_offset")


# --- the shared parameter-substitution helper --------------------------------------------------

class DateTime(int):
    """A parameter bound as a ClickHouse DateTime (unix seconds, UTC)."""


def literal(value):
    """The SQL literal clickhouse-go's client-side binding writes for value."""
    if isinstance(value, DateTime):
        text = dt.datetime.fromtimestamp(int(value), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return "toDateTime('%s', 'UTC')" % text
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"
    if isinstance(value, list):  # clickhouse-go writes a slice as [a, b, ...]
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError("cannot bind %r" % (value,))


def bind(sql, params):
    """Replaces each @name outside string literals, quoted identifiers and comments, like
    clickhouse-go's client-side binding; an @name without a value is an error."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'`\"":
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif c == "@" and i + 1 < n and (sql[i + 1].isalnum() or sql[i + 1] == "_"):
            m = re.match(r"@(\w+)", sql[i:])
            name = m.group(1)
            if name not in params:
                raise KeyError("no value for @" + name)
            out.append(literal(params[name]))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


INCLUDE = re.compile(r"^[ \t]*\{\{query ([a-z0-9_]+)\}\}[ \t]*$", re.M)


INPUT = re.compile(r"^[ \t]*\{\{input\}\}[ \t]*$", re.M)


def query_text(name):
    """The text of queries/NAME.sql with each {{query OTHER}} line replaced by OTHER's text, and
    for alert_state_RULE, alert_state.sql around alert_input_RULE.sql, as sql/warehouse does."""
    if name.startswith("alert_state_"):
        return INPUT.sub(lambda m: query_text("alert_input_" + name[len("alert_state_"):]), query_text("alert_state"))
    return INCLUDE.sub(lambda m: query_text(m.group(1)), open(QUERIES[name]).read())


def query_names():
    """The queries package warehouse runs: every file, but alert_state.sql only around each of its
    inputs (alert_state_RULE) and the inputs only there."""
    rules = [n[len("alert_input_"):] for n in QUERIES if n.startswith("alert_input_")]
    return sorted([n for n in QUERIES if n != "alert_state" and not n.startswith("alert_input_")] +
                  ["alert_state_" + r for r in rules])


def split_statements(text):
    """Splits a migration file at lines holding only ';' (warehouse.SplitStatements)."""
    stmts, cur = [], []
    for line in text.split("\n") + [";"]:
        if line.strip() == ";":
            stmt = "\n".join(cur).strip()
            if any(l.strip() and not l.strip().startswith("--") for l in stmt.split("\n")):
                stmts.append(stmt)
            cur = []
        else:
            cur.append(line)
    return stmts


def test_bind():
    f = lambda sql, params, want: (bind(sql, params) == want) or pytest.fail("%r -> %r" % (sql, bind(sql, params)))
    f("SELECT @a, '@a', `@a` -- @a", {"a": 1}, "SELECT 1, '@a', `@a` -- @a")
    f("WHERE s = @space", {"space": "x' OR 1=1 --"}, "WHERE s = 'x\\' OR 1=1 --'")
    f("@from", {"from": DateTime(T0)}, "toDateTime('2024-08-13 00:00:00', 'UTC')")
    f("@a@b", {"a": 1, "b": 2}, "12")
    with pytest.raises(KeyError):
        bind("@missing", {})


# --- the data set -------------------------------------------------------------------------------

def generate(seed, space, start, users, minutes):
    """Users try to join (technical failures are retried, business ones not), listen and leave
    (some dropped by network/error, some still listening at the end); busy first third, a quiet
    middle, sparse end (minutes under 25 attempts)."""
    r = random.Random(seed)
    span = minutes * 60_000
    evs = []

    def new_id():
        return str(uuid.UUID(int=r.getrandbits(128), version=4))

    for u in range(users):
        base = dict(space_id=space, user_id="user-%d" % u, role="speaker" if u % 17 == 0 else "listener",
                    client=r.choice(["ios", "android", "web", ""]), app_version="10.53.0",
                    region=r.choice(["us-east-1", "eu-west-1", ""]), country=r.choice(["US", "GB", ""]),
                    join_ms=-1, attempt=0, reason="", phase="", code="", http_status=0)
        at = r.randrange(span // 3) if r.random() < 0.7 else span // 2 + r.randrange(span // 2)
        for attempt in range(4):
            e = dict(base, event_id=new_id(), session_id=new_id(), attempt=attempt, ts_ms=start * 1000 + at)
            roll = r.randrange(100)
            if roll < 30:
                e.update(kind="error", phase="join", http_status=503,
                         code=r.choice(["details_not_available", "timeout", "server_error", "brand_new_code"]))
                evs.append(e)
                at += 500 + r.randrange(20_000)
                if r.random() < 0.2:
                    break
                continue
            if roll < 38:
                e.update(kind="error", phase="join", code=r.choice(sorted(BUSINESS)), http_status=403)
                evs.append(e)
                break
            e.update(kind="join", join_ms=r.randrange(5000) if r.random() < 0.9 else -1)
            evs.append(e)
            stay = r.randrange(span // 2)
            if r.random() < 0.15:
                evs.append(dict(base, event_id=new_id(), session_id=e["session_id"], kind="error",
                                phase="session", code="media", ts_ms=e["ts_ms"] + stay // 2))
            if r.random() < 0.85:
                evs.append(dict(base, event_id=new_id(), session_id=e["session_id"], kind="leave",
                                ts_ms=e["ts_ms"] + stay,
                                reason=r.choice(["user", "user", "user", "network", "error", "kicked"])))
            break
    for i, e in enumerate(evs):
        e.update(ts=e["ts_ms"] // 1000, kafka_partition=i % 4, kafka_offset=i)
    return evs


def deliver(seed, evs, batches):
    """What the consumer lands: every event exactly once (it keeps copies out), shuffled and split
    at random points over several insert batches, so events arrive out of order, a second's events
    are spread over several batches (several insert blocks of a cell) and late events come in
    later batches."""
    r = random.Random(seed)
    evs = list(evs)
    r.shuffle(evs)
    cuts = sorted(r.sample(range(1, len(evs)), batches - 1))
    out = [evs[a:b] for a, b in zip([0] + cuts, cuts + [len(evs)])]
    assert sum(len(b) for b in out) == len({e["event_id"] for e in evs}) == len(evs)
    return out


def insert_sql(db, batch):
    def row(e):
        vals = [e["event_id"], e["kind"], e["ts"], e["ts_ms"], e["space_id"], e["session_id"], e["user_id"],
                e["role"], e["client"], e["app_version"], e["region"], e["country"], e["join_ms"], e["attempt"],
                e["reason"], e["phase"], e["code"], e["http_status"], e["kafka_partition"], e["kafka_offset"]]
        return "(" + ", ".join(literal(v) for v in vals) + ")"
    return "INSERT INTO %s.events (%s) VALUES %s" % (db, COLUMNS, ", ".join(row(e) for e in batch))


# --- brute force ----------------------------------------------------------------------------------

def fmt_time(sec):
    return dt.datetime.fromtimestamp(sec, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def nearest_rank(ordered, level):
    """The nearest-rank percentile of a sorted list: its ceil(level * n)-th smallest element, as
    ClickHouse's quantileExactWeighted computes it (in floating point, as here)."""
    return ordered[max(math.ceil(level * len(ordered)), 1) - 1]


def is_attempt(e):
    return e["kind"] == "join" or (e["kind"] == "error" and e["phase"] == "join")


class Model:
    def __init__(self, evs):
        assert len({e["event_id"] for e in evs}) == len(evs), "the model holds each event once"
        self.evs = list(evs)

    def space(self, space, lo=None, hi=None):
        return [e for e in self.evs if e["space_id"] == space
                and (lo is None or e["ts"] >= lo) and (hi is None or e["ts"] <= hi)]

    def ccl(self, space, t):
        return sum({"join": 1, "leave": -1}.get(e["kind"], 0) for e in self.space(space, hi=t))

    def failure_rate(self, space, lo, hi, step):
        rows = []
        for b in range(lo // step * step, hi + 1, step):
            evs = [e for e in self.space(space, max(b, lo), min(b + step - 1, hi)) if is_attempt(e)]
            tech = sum(1 for e in evs if e["kind"] == "error" and e["code"] not in BUSINESS)
            bus = sum(1 for e in evs if e["kind"] == "error" and e["code"] in BUSINESS)
            rate = tech / len(evs) if len(evs) >= MIN_ATTEMPTS else None
            rows.append([fmt_time(b), len(evs), tech, bus, rate])
        return rows

    @staticmethod
    def alert_rule(minutes, hi, watermark, lateness, for_):
        """alert_state.sql as a loop (warehouse's modelTimeline) over an input's minutes
        [(start, value, a, b, measured, bad)], in order from a whole minute."""
        out, firing, run = [], False, 0
        for b, value, x, y, measured, bad in minutes:
            if b + 60 + lateness > watermark or b + 60 > hi + 1:
                state = "incomplete"
            elif not measured:
                state, run = "no_data", 0
            elif bad:
                state = "bad"
                if not firing:
                    run += 1
                    if run >= for_:
                        firing, run = True, 0
            else:
                state, firing, run = "good", False, 0
            out.append([fmt_time(b), value, x, y, int(state != "incomplete"), state, int(firing)])
        return out

    def join_failure_minutes(self, space, lo, hi, threshold):
        return [(lo + 60 * i, rate, attempts, tech, attempts >= MIN_ATTEMPTS, (rate or 0) > threshold)
                for i, (_b, attempts, tech, _bus, rate) in enumerate(self.failure_rate(space, lo, hi, 60))]

    def retry_minutes(self, space, lo, hi, threshold):
        rows = {r[0]: r for r in self.user_failure_rate(space, lo, hi, 60)}
        out = []
        for b in range(lo, hi // 60 * 60 + 1, 60):
            _, users, _failed, attempts, _rate, amp = rows.get(fmt_time(b), [None, 0, 0, 0, None, 0.0])
            out.append((b, amp if attempts else None, attempts, users, attempts >= MIN_ATTEMPTS,
                        attempts > 0 and amp > threshold))
        return out

    def ccl_drop_minutes(self, space, lo, hi, threshold, min_listeners):
        """lo is the first minute judged; the curve starts 120 s before it."""
        start = lo - 120
        ccl, n = [], self.ccl(space, start - 1)
        deltas = {}
        for e in self.space(space, start, hi):
            deltas[e["ts"]] = deltas.get(e["ts"], 0) + {"join": 1, "leave": -1}.get(e["kind"], 0)
        for t in range(start, hi + 1):
            n += deltas.get(t, 0)
            ccl.append(n)
        ended = {}
        for e in self.space(space, start // 60 * 60, hi // 60 * 60 + 59):
            if e["kind"] == "leave" and e["reason"] == "ended" and e["ts"] // 60 * 60 <= hi:
                for d in (0, 60, 120):
                    m = e["ts"] // 60 * 60 + d
                    ended[m] = ended.get(m, 0) + 1
        minutes = {}
        for i, t in enumerate(range(start, hi + 1)):
            peak = max(ccl[max(0, i - 120):i + 1])
            fall = 1 - ccl[i] / peak if peak > 0 else 0
            m = t // 60 * 60
            if m < lo:
                continue
            minutes.setdefault(m, []).append((fall, t, peak, ccl[i]))
        out = []
        for m in sorted(minutes):
            secs = minutes[m]
            fall, _t, peak, listeners = max(secs)
            measured = max(s[2] for s in secs) >= min_listeners
            worst = max((s[0] if s[2] >= min_listeners else 0) for s in secs)
            out.append((m, fall, peak, listeners, measured, worst > threshold and ended.get(m, 0) == 0))
        return out

    def summary(self, space, lo, hi):
        w = self.space(space, lo, hi)
        joins = [e for e in w if e["kind"] == "join"]
        leaves = [e for e in w if e["kind"] == "leave"]
        jerr = [e for e in w if e["kind"] == "error" and e["phase"] == "join"]
        tech = sum(1 for e in jerr if e["code"] not in BUSINESS)
        bus = len(jerr) - tech
        attempts = len(joins) + len(jerr)
        before = self.ccl(space, lo - 1)
        users = {e["user_id"] for e in w if is_attempt(e)}
        listeners = {e["user_id"] for e in joins}
        lat = sorted(e["join_ms"] for e in joins if e["join_ms"] >= 0)
        q = [nearest_rank(lat, level) if lat else 0 for level in (0.5, 0.95, 0.99)]
        return [[
            len(joins), len(leaves), attempts, tech, bus,
            sum(1 for e in w if e["kind"] == "error" and e["phase"] != "join"),
            before, before + len(joins) - len(leaves),
            len(lat), q[0], q[1], q[2],
            tech / attempts if attempts >= MIN_ATTEMPTS else None,
        ]]

    def listening(self, space, lo, hi):
        leaves = [e for e in self.space(space, lo, hi) if e["kind"] == "leave"]
        sessions = {}
        for e in self.space(space, hi=hi):
            if e["kind"] in ("join", "leave"):
                sessions.setdefault(e["session_id"], {})[e["kind"]] = e["ts"]
        listening, listening_sessions = 0, 0
        for s in sessions.values():
            if "join" in s:
                overlap = min(s.get("leave", hi + 1), hi + 1) - max(s["join"], lo)
                if overlap > 0:
                    listening += overlap
                    listening_sessions += 1
        drops = sum(1 for e in leaves if e["reason"] in ("network", "error"))
        return [[listening, listening_sessions, drops, drops * 60000 / listening if listening else None]]

    def failures_by(self, space, lo, hi, dim):
        groups = {}
        for e in self.space(space, lo // 60 * 60, hi // 60 * 60 + 59):
            g = groups.setdefault(e[dim], [e[dim], 0, 0, 0, 0, 0, None])
            g[1] += is_attempt(e)
            g[2] += e["kind"] == "join"
            if e["kind"] == "error" and e["phase"] == "join":
                g[4 if e["code"] in BUSINESS else 3] += 1
            elif e["kind"] == "error":
                g[5] += 1
        for g in groups.values():
            g[6] = g[3] / g[1] if g[1] >= MIN_ATTEMPTS else None
        return sorted(groups.values(), key=lambda g: (-g[3], -g[1], g[0]))

    def space_bounds(self, space):
        ts = [e["ts"] for e in self.space(space)]
        return [[len(set(ts)), fmt_time(min(ts)), fmt_time(max(ts))]] if ts else [[0, fmt_time(0), fmt_time(0)]]

    def spaces(self):
        return [[s] + self.space_bounds(s)[0][1:] for s in sorted({e["space_id"] for e in self.evs})]

    # --- the series queries of warehouse/series.go (brute force as in series_test.go) ---

    def concurrency(self, space, lo, hi, step):
        """Peak, its earliest second and last CCL(t) of the seconds of each step bucket inside
        [lo, hi]; dense. A step past every timestamp is one bucket at the epoch."""
        n, deltas = self.ccl(space, lo - 1), {}
        for e in self.space(space, lo, hi):
            deltas[e["ts"]] = deltas.get(e["ts"], 0) + {"join": 1, "leave": -1}.get(e["kind"], 0)
        rows = []
        for t in range(lo, hi + 1):
            n += deltas.get(t, 0)
            b = fmt_time(t // step * step)
            if rows and rows[-1][0] == b:
                if n > rows[-1][1]:
                    rows[-1][1:3] = [n, fmt_time(t)]
                rows[-1][3] = n
            else:
                rows.append([b, n, fmt_time(t), n])
        return rows

    @staticmethod
    def klass(e):
        """The space_second_counts class of an event (migration 0005)."""
        if e["kind"] in ("join", "leave"):
            return e["kind"]
        if e["phase"] == "join":
            return "join_error_business" if e["code"] in BUSINESS else "join_error"
        return "session_error"

    def activity(self, space, lo, hi, step):
        order = ("join", "leave", "join_error", "join_error_business", "session_error")
        groups = {}
        for e in self.space(space, lo, hi):
            g = groups.setdefault(e["ts"] // step * step, [0] * 5)
            g[order.index(self.klass(e))] += 1
        return [[fmt_time(b)] + groups[b] for b in sorted(groups)]

    def failure_rate_by(self, space, lo, hi, step, dim):
        groups = {}
        for e in self.space(space, lo // 60 * 60, hi // 60 * 60 + 59):
            if not is_attempt(e):
                continue
            g = groups.setdefault((e["ts"] // step * step, e[dim]), [0, 0, 0])
            g[0] += 1
            if e["kind"] == "error":
                g[2 if e["code"] in BUSINESS else 1] += 1
        return [[fmt_time(b), v, a, t, bus, t / a if a >= MIN_ATTEMPTS else None]
                for (b, v), (a, t, bus) in sorted(groups.items())]

    def user_failure_rate(self, space, lo, hi, step):
        buckets = {}
        for e in self.space(space, lo, hi):
            if not is_attempt(e):
                continue
            b = buckets.setdefault(e["ts"] // step * step, {"attempts": 0, "users": {}})
            b["attempts"] += 1
            b["users"][e["user_id"]] = b["users"].get(e["user_id"], False) or e["kind"] == "join"
        rows = []
        for t in sorted(buckets):
            users, attempts = buckets[t]["users"], buckets[t]["attempts"]
            failed = sum(1 for joined in users.values() if not joined)
            rows.append([fmt_time(t), len(users), failed, attempts,
                         failed / len(users) if attempts >= MIN_ATTEMPTS else None, attempts / len(users)])
        return rows

    def errors_by_code(self, space, lo, hi, step, technical_only):
        groups = {}
        for e in self.space(space, lo // 60 * 60, hi // 60 * 60 + 59):
            if e["kind"] != "error" or e["phase"] != "join" or (technical_only and e["code"] in BUSINESS):
                continue
            k = (e["ts"] // step * step, e["code"])
            groups[k] = groups.get(k, 0) + 1
        return [[fmt_time(b), code, int(code not in BUSINESS), n] for (b, code), n in sorted(groups.items())]

    def join_latency(self, space, lo, hi, step, dim):
        samples = {}
        for e in self.space(space, lo, hi):
            if e["kind"] == "join" and e["join_ms"] >= 0:
                samples.setdefault((e["ts"] // step * step, e[dim] if dim else ""), []).append(e["join_ms"])
        rows = []
        for (b, v), s in sorted(samples.items()):
            s.sort()
            rows.append([fmt_time(b), v, len(s)] + [nearest_rank(s, level) for level in (0.5, 0.95, 0.99)])
        return rows

    def dimension_values(self, space, lo, hi, dim, limit):
        counts = {}
        for e in self.evs:
            if (space == "" or e["space_id"] == space) and lo // 60 * 60 <= e["ts"] <= hi // 60 * 60 + 59 \
                    and e[dim] != "":
                counts[e[dim]] = counts.get(e[dim], 0) + 1
        return [[v, n] for v, n in sorted(counts.items(), key=lambda vn: (-vn[1], vn[0]))][:limit]

    def spaces_in_window(self, lo, hi, limit):
        bounds = {}
        for e in self.evs:
            if lo <= e["ts"] <= hi:
                b = bounds.setdefault(e["space_id"], [e["ts"], e["ts"]])
                b[0], b[1] = min(b[0], e["ts"]), max(b[1], e["ts"])
        return [[s, fmt_time(b[0]), fmt_time(b[1])] for s, b in sorted(bounds.items())][:limit]

    def space_second_cells(self, hi):
        """The distinct (space, second, class) cells of space_second_counts up to hi's month: the
        rows of the rollup once every part of a partition is merged into one."""
        month = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y%m")
        return len({(e["space_id"], e["ts"], self.klass(e)) for e in self.evs if month(e["ts"]) <= month(hi)})

    def space_minute_cells(self):
        """The distinct key tuples of space_minute_counts (migration 0005)."""
        return len({(e["space_id"], e["ts"] // 60, e["kind"], e["phase"],
                     int(e["kind"] == "error" and e["code"] not in BUSINESS), e["code"], e["reason"],
                     e["client"], e["app_version"], e["region"], e["country"]) for e in self.evs})


# --- engines --------------------------------------------------------------------------------------

def parse_tsv(text):
    rows = []
    for line in text.splitlines():
        if not line:
            continue
        row = []
        for v in line.split("\t"):
            if v == "\\N":
                row.append(None)
                continue
            if v == "0000-00-00 00:00:00":  # how 18.16 prints the zero DateTime
                v = "1970-01-01 00:00:00"
            for conv in (int, float):
                try:
                    row.append(conv(v))
                    break
                except ValueError:
                    pass
            else:
                row.append(v)
        rows.append(row)
    return rows


class Chdb:
    name = "chdb"

    def __init__(self, db):
        self.dir = tempfile.mkdtemp(prefix="spacepulse-chdb-")
        self.s = chdb_session.Session(self.dir)
        self.db = db

    def execute(self, sql):
        self.s.query(sql)

    def query(self, sql, db=None):
        self.s.query("USE " + (db or self.db))
        return parse_tsv(str(self.s.query(sql, "TabSeparated")))

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """ClickHouse 18.16 (or any server) through clickhouse-client."""
    name = "server"

    def __init__(self, addr, db):
        host, port = addr.rsplit(":", 1)
        self.base = ["clickhouse-client", "--host", host, "--port", port]
        self.db = db

    def run(self, sql, db=None):
        cmd = self.base + (["--database", db] if db else []) + ["-q", sql]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
        return r.stdout

    def execute(self, sql):
        self.run(sql)

    def query(self, sql, db=None):
        return parse_tsv(self.run(sql, db or self.db))

    def close(self):
        self.run("DROP DATABASE IF EXISTS " + self.db)


def server_addr():
    gate = os.environ.get("SPACEPULSE_INTEGRATION", "")
    addr = os.environ.get("SPACEPULSE_CLICKHOUSE_ADDR") or "127.0.0.1:9000"
    if gate == "0":
        return None
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        if shutil.which("clickhouse-client") is None:
            raise OSError("clickhouse-client is not installed")
        return addr
    except OSError as err:
        if gate == "1":
            pytest.fail("SPACEPULSE_INTEGRATION=1 but ClickHouse at %s does not answer: %s" % (addr, err))
        return None


def migrate(engine, db):
    """Every statement of every migration, as warehouse.Migrate applies them to a fresh database
    ({db} the database, {cutover} the epoch, {business_codes} the codes of BUSINESS)."""
    engine.execute("CREATE DATABASE IF NOT EXISTS " + db)
    for path in MIGRATIONS:
        for stmt in split_statements(open(path).read()):
            stmt = stmt.replace("{db}", db).replace("{cutover}", FRESH_CUTOVER).replace("{business_codes}", BUSINESS_SQL)
            left = re.findall(r"\{[a-z_]+\}", "\n".join(l for l in stmt.split("\n") if not l.strip().startswith("--")))
            assert not left, "%s: unknown placeholders %s" % (os.path.basename(path), left)
            engine.execute(stmt)


def tables(engine, db):
    return engine.query("SELECT name, engine FROM system.tables WHERE database = '%s' ORDER BY name" % db)


def load(engine, db, batches):
    """Migrates (twice: a second run leaves the same tables), then, merges stopped, inserts the
    batches."""
    migrate(engine, db)
    first = tables(engine, db)
    migrate(engine, db)
    assert tables(engine, db) == first, "%s: a second migration changed the tables" % engine.name
    assert [t[0] for t in first] == sorted(["events", "ingest_heartbeat", "ingest_progress"] + [r + s for r in ROLLUPS for s in ("", "_mv")]), first
    for table in ("events",) + ROLLUPS:
        engine.execute("SYSTEM STOP MERGES %s.%s" % (db, table))
    for batch in batches:
        engine.execute(insert_sql(db, batch))


def merge_all(engine, db):
    for table in ("events",) + ROLLUPS:
        engine.execute("SYSTEM START MERGES %s.%s" % (db, table))
        engine.execute("OPTIMIZE TABLE %s.%s FINAL" % (db, table))


def stored_once(engine, evs):
    """events holds each of evs exactly once."""
    got = engine.query("SELECT count(), uniqExact(event_id) FROM events")
    assert got == [[len(evs), len(evs)]], "%s: events (count, distinct ids) %s, want %d each" % (engine.name, got, len(evs))


def rollup_rows(engine):
    """(rows, distinct cells, sum of events) of each rollup table."""
    return [engine.query("SELECT toInt64(count()), toInt64(uniqExact(%s)), toInt64(sum(events)) FROM %s" % (key, table))[0]
            for table, key in (("space_second_counts", "space_id, second, class"),
                               ("space_minute_counts", "space_id, minute, kind, phase, technical, code, reason, "
                                                       "client, app_version, region, country"))]


EVENTS = generate(1, SPACE, T0, 500, 20) + generate(2, "other-space", T0 - 180, 100, 10)
BATCHES = deliver(3, EVENTS, 6)
MODEL = Model(EVENTS)
DB = "spacepulse_test_py_%d" % os.getpid()


@pytest.fixture(scope="module")
def engines():
    loaded = [Chdb(DB)]
    addr = server_addr()
    if addr:
        loaded.append(Server(addr, DB))
    try:
        for e in loaded:
            e.execute("DROP DATABASE IF EXISTS " + DB)
            load(e, DB, BATCHES)
        yield loaded
    finally:
        for e in loaded:
            e.close()


def test_data_exercises_the_edge_cases(engines):
    assert len(BATCHES) > 2 and all(BATCHES), [len(b) for b in BATCHES]
    late = sum(1 for i in range(1, len(BATCHES)) for e in BATCHES[i]
               if e["ts"] < max(f["ts"] for b in BATCHES[:i] for f in b))
    assert late > 0, "some events must come in a batch after later events"
    for e in engines:
        stored_once(e, MODEL.evs)
        # Before merges a cell is split over the blocks of the batches holding its events.
        (sec_rows, sec_cells, sec_sum), (min_rows, min_cells, min_sum) = rollup_rows(e)
        assert sec_cells == MODEL.space_second_cells(T0 + 86400) and sec_rows > sec_cells, (e.name, sec_rows, sec_cells)
        assert min_cells == MODEL.space_minute_cells() and min_rows > min_cells, (e.name, min_rows, min_cells)
        assert sec_sum == min_sum == len(MODEL.evs), (e.name, sec_sum, min_sum)
    minutes = MODEL.failure_rate(SPACE, T0, T0 + 1200, 60)
    assert any(0 < m[1] < MIN_ATTEMPTS for m in minutes) and any(m[1] >= MIN_ATTEMPTS for m in minutes)
    assert MODEL.ccl(SPACE, T0 + 136) > 10, "the mid-session window must start with listeners"


# The @step that makes a bucketed query's window one bucket (warehouse.wholeWindow).
WHOLE_WINDOW = 2**32 - 1

WINDOWS = {
    "whole": (T0 - 300, T0 + 25 * 60),
    "mid-session": (T0 + 137, T0 + 19 * 60 + 13),
    "one second": (T0 + 61, T0 + 61),
    "before any event": (T0 - 3600, T0 - 3000),
}


def cases():
    """(query file, parameters, brute-force rows) for every query file."""
    out = []
    for name, (lo, hi) in WINDOWS.items():
        w = dict(space=SPACE, **{"from": DateTime(lo), "to": DateTime(hi)})
        out += [
            ("failure_rate", dict(w, step=60, min_attempts=MIN_ATTEMPTS), MODEL.failure_rate(SPACE, lo, hi, 60)),
            ("failure_rate", dict(w, step=300, min_attempts=MIN_ATTEMPTS), MODEL.failure_rate(SPACE, lo, hi, 300)),
            ("summary", dict(w, min_attempts=MIN_ATTEMPTS), MODEL.summary(SPACE, lo, hi)),
            ("listening", w, MODEL.listening(SPACE, lo, hi)),
        ]
        for dim in ("code", "client", "region", "country", "app_version"):
            out.append(("failures_by", dict(w, dimension=dim, min_attempts=MIN_ATTEMPTS),
                        MODEL.failures_by(SPACE, lo, hi, dim)))
        # the dashboard series (warehouse/series.go)
        for step in (1, 7, 60, 300, WHOLE_WINDOW):
            out.append(("concurrency", dict(w, step=step), MODEL.concurrency(SPACE, lo, hi, step)))
        out.append(("user_failure_rate", dict(w, step=WHOLE_WINDOW, min_attempts=MIN_ATTEMPTS),
                    MODEL.user_failure_rate(SPACE, lo, hi, WHOLE_WINDOW)))
        for step in (7, 60, 300):
            out += [
                ("activity", dict(w, step=step), MODEL.activity(SPACE, lo, hi, step)),
                ("user_failure_rate", dict(w, step=step, min_attempts=MIN_ATTEMPTS),
                 MODEL.user_failure_rate(SPACE, lo, hi, step)),
            ]
        for step in (7, 60, 300):  # 60 and 300: the latency rollups and the partial minutes raw
            for dim in ("", "client", "region", "country", "app_version"):
                out.append(("join_latency", dict(w, step=step, dimension=dim),
                            MODEL.join_latency(SPACE, lo, hi, step, dim)))
        for step in (60, 180):  # multiples of a minute: the minute rollup
            for dim in ("code", "client", "region", "country", "app_version"):
                out.append(("failure_rate_by", dict(w, step=step, dimension=dim, min_attempts=MIN_ATTEMPTS),
                            MODEL.failure_rate_by(SPACE, lo, hi, step, dim)))
            for technical_only in (0, 1):
                out.append(("errors_by_code", dict(w, step=step, technical_only=technical_only),
                            MODEL.errors_by_code(SPACE, lo, hi, step, technical_only)))
        for space, limit in ((SPACE, 1000), ("", 1000), ("", 2)):
            for dim in ("code", "client", "region", "country", "app_version"):
                out.append(("dimension_values", dict(w, space=space, dimension=dim, limit=limit),
                            MODEL.dimension_values(space, lo, hi, dim, limit)))
        m = lo // 60 * 60
        rule = lambda watermark, threshold, for_: dict(w, **{"from": DateTime(m), "for": for_}, step=60,
                                                       min_attempts=MIN_ATTEMPTS, watermark=watermark, lateness=60,
                                                       threshold=threshold)
        far, mid = DateTime(4102444800), DateTime(T0 + 600)
        for watermark, threshold in ((far, 0.05), (mid, 0.05), (far, 0.0)):
            out.append(("alert_state_join_failure_rate", rule(watermark, threshold, 2),
                        MODEL.alert_rule(MODEL.join_failure_minutes(SPACE, m, hi, threshold), hi, watermark, 60, 2)))
        for watermark, threshold in ((far, 2.0), (mid, 1.0), (far, 1.0)):
            out.append(("alert_state_retry_amplification", rule(watermark, threshold, 3),
                        MODEL.alert_rule(MODEL.retry_minutes(SPACE, m, hi, threshold), hi, watermark, 60, 3)))
            # the same page on the minutes' figures given, as the plugin's cache keeps them
            out.append(("alert_state_retry_amplification_given", dict(rule(watermark, threshold, 3), **given_minutes(m, hi)),
                        MODEL.alert_rule(MODEL.retry_minutes(SPACE, m, hi, threshold), hi, watermark, 60, 3)))
        if m - 120 >= 0:
            for watermark, threshold, min_listeners in ((far, 0.3, 100), (mid, 0.05, 5), (far, 0.01, 1)):
                out.append(("alert_state_ccl_drop", dict(rule(watermark, threshold, 1), step=1,
                                                         min_listeners=min_listeners, **{"from": DateTime(m - 120)}),
                            MODEL.alert_rule(MODEL.ccl_drop_minutes(SPACE, m, hi, threshold, min_listeners),
                                             hi, watermark, 60, 1)))
        for limit in (10, 1):
            out.append(("spaces_in_window", {"from": DateTime(lo), "to": DateTime(hi), "limit": limit},
                        MODEL.spaces_in_window(lo, hi, limit)))
    out += [
        ("space_bounds", dict(space=SPACE), MODEL.space_bounds(SPACE)),
        ("space_exists", dict(space=SPACE), [[1]]),
        ("space_exists", dict(space="other-space"), [[1]]),
        ("space_exists", dict(space="x' OR 1=1 --"), [[0]]),
        ("space_bounds", dict(space="x' OR 1=1 --"), MODEL.space_bounds("x' OR 1=1 --")),
        ("spaces", {}, MODEL.spaces()),
        # No consumer records in these databases (the events are inserted directly): unknown.
        ("ingest_watermark", dict(stale_after=15, idle_after=10), [[None, 0, 0]]),
        ("summary", dict(space="'); DROP TABLE events; --", min_attempts=MIN_ATTEMPTS,
                         **{"from": DateTime(T0), "to": DateTime(T0 + 60)}),
         MODEL.summary("'); DROP TABLE events; --", T0, T0 + 60)),
        ("listening", dict(space="'); DROP TABLE events; --", **{"from": DateTime(T0), "to": DateTime(T0 + 60)}),
         MODEL.listening("'); DROP TABLE events; --", T0, T0 + 60)),
        ("dimension_values", dict(space="x' OR 1=1 --", dimension="client", limit=10,
                                  **{"from": DateTime(T0), "to": DateTime(T0 + 600)}), []),
        # A fingerprint, not a figure: no partition up to July 2024 (the data is in August) ...
        ("space_second_version", {"to": DateTime(T0 - 40 * 86400)}, [[0, 0, 0]]),
        # ... and up to August its shape and what the model can say (see fingerprint_ok); that it
        # changes on an insert is test_space_second_version_changes_on_insert.
        ("space_second_version", {"to": DateTime(T0 + 1200)}, fingerprint_ok(MODEL.space_second_cells(T0 + 1200))),
        # The parts of events: their shape (events_version_ok); what they say after inserts and
        # merges is test_events_version_blocks.
        ("events_version", {"from": DateTime(T0 - 3600), "to": DateTime(T0 + 1500)}, events_version_ok(True)),
        ("events_version", {"from": DateTime(T0 - 40 * 86400), "to": DateTime(T0 - 39 * 86400)}, events_version_ok(False)),
    ]
    return out


def given_minutes(lo, hi):
    """The @minutes, @attempts and @users of alert_input_retry_amplification_given.sql: each minute
    of SPACE in [lo, hi] with attempts (lo a whole minute), as minutes after lo, from the model."""
    minutes = {}
    for e in MODEL.space(SPACE, lo, hi):
        if is_attempt(e):
            b = minutes.setdefault((e["ts"] - lo) // 60, [0, set()])
            b[0] += 1
            b[1].add(e["user_id"])
    keys = sorted(minutes, reverse=True)  # any order will do
    return {"minutes": keys, "attempts": [minutes[k][0] for k in keys], "users": [len(minutes[k][1]) for k in keys]}


def array(v):
    """An array column as clickhouse-client prints it ([1,2] or ['a','b'])."""
    return json.loads(v.replace("'", '"'))


def events_version_ok(has_parts):
    """A check of events_version.sql's one row: a single server's ReplacingMergeTree partitioned
    by toYYYYMM(ts), no mutation, and the parts of the window's months: none for July 2024; for
    August at least one (one once merged) holding all the events of the month once, each with rows
    of August 2024, block numbers up to the horizon and its rows' time range."""
    def ok(rows, merged):
        if len(rows) != 1 or len(rows[0]) != 15:
            return False
        engine, key, created, host, started, pending, _mutations, horizon = rows[0][:8]
        partitions, lo, hi, version, nrows, tmin, tmax = [array(str(v)) for v in rows[0][8:]]
        if (engine, key, pending) != ("ReplacingMergeTree", "toYYYYMM(ts)", 0) or not (created > 0 and host and started > 0):
            return False
        if not has_parts:
            return partitions == [] and horizon >= len(BATCHES)
        n = len(partitions)
        ts = [e["ts"] for e in EVENTS]
        return (n >= 1 and (n == 1 or not merged) and set(partitions) == {"202408"} and sum(nrows) == len(EVENTS) and
                all(len(c) == n for c in (lo, hi, version, tmin, tmax)) and
                all(1 <= lo[i] <= version[i] <= hi[i] <= horizon and min(ts) <= tmin[i] <= tmax[i] <= max(ts)
                    for i in range(n)) and (not merged or (lo == [1] and hi == [horizon] and (tmin, tmax) == ([min(ts)], [max(ts)]))))
    return ok


def fingerprint_ok(cells):
    """A check of space_second_version.sql's one row (parts, max_block, stored_rows): at least one
    part, block numbers at least the parts, and at least one row of space_second_counts per
    distinct cell (a cell has a row per insert block until merges sum them); once merged, one part
    holding exactly one row per distinct cell."""
    def ok(rows, merged):
        if len(rows) != 1 or len(rows[0]) != 3 or not all(type(x) is int for x in rows[0]):
            return False
        parts, max_block, stored = rows[0]
        if merged:
            return parts == 1 and max_block >= len(BATCHES) and stored == cells
        return parts >= 1 and max_block >= parts and stored >= cells
    return ok


def test_every_query_file_is_covered():
    assert sorted({c[0] for c in cases()}) == query_names()


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-12 * max(1, abs(b))
    return a == b


def check(engines, merged):
    for name, params, want in cases():
        sql = bind(query_text(name), params)
        results = {}
        for e in engines:
            got = e.query(sql)
            results[e.name] = got
            if callable(want):  # a fingerprint: checked for shape, not compared between engines
                assert want(got, merged), "%s on %s (merged=%s) %s: got %s" % (name, e.name, merged, params, got)
                continue
            ok = len(got) == len(want) and all(
                len(g) == len(w) and all(close(x, y) for x, y in zip(g, w)) for g, w in zip(got, want))
            assert ok, "%s on %s (merged=%s) %s:\n got %s\nwant %s" % (
                name, e.name, merged, params, got[:5], want[:5])
        if len(results) == 2 and not callable(want):
            assert results["chdb"] == results["server"] or all(
                close(x, y) for g, w in zip(results["chdb"], results["server"]) for x, y in zip(g, w))


def test_queries_match_brute_force(engines):
    check(engines, merged=False)  # cells split over insert blocks, events in unmerged parts
    for e in engines:
        merge_all(e, DB)
        stored_once(e, MODEL.evs)
        cells = [MODEL.space_second_cells(T0 + 86400), MODEL.space_minute_cells()]
        assert rollup_rows(e) == [[n, n, len(MODEL.evs)] for n in cells], "%s: one row per cell after merges" % e.name
    check(engines, merged=True)


FINGERPRINT_DB = DB + "_fingerprint"


def test_space_second_version_changes_on_insert(engines):
    """Any insert into events (so into space_second_counts' partitions up to @to's month) changes
    the fingerprint; a month before the insert keeps it. Runs in a database of its own, so the
    figures of the other tests stay the same: the first batch, then late events of the second."""
    sql = query_text("space_second_version")
    at = lambda month_to: bind(sql, {"to": DateTime(month_to)})
    first, late = BATCHES[0], BATCHES[1][:5]
    for e in engines:
        e.execute("DROP DATABASE IF EXISTS " + FINGERPRINT_DB)
        try:
            migrate(e, FINGERPRINT_DB)
            for table in ("events",) + ROLLUPS:  # stored_rows below counts rows of unmerged parts
                e.execute("SYSTEM STOP MERGES %s.%s" % (FINGERPRINT_DB, table))
            e.execute(insert_sql(FINGERPRINT_DB, first))
            before = e.query(at(T0 + 1200), FINGERPRINT_DB)
            assert fingerprint_ok(Model(first).space_second_cells(T0 + 1200))(before, False), (e.name, before)
            july = e.query(at(T0 - 40 * 86400), FINGERPRINT_DB)
            e.execute(insert_sql(FINGERPRINT_DB, late))
            after = e.query(at(T0 + 1200), FINGERPRINT_DB)
            assert after != before and after[0][1] > before[0][1], "%s: %s -> %s" % (e.name, before, after)
            assert e.query(at(T0 - 40 * 86400), FINGERPRINT_DB) == july == [[0, 0, 0]], e.name
            assert after[0][2] == before[0][2] + len({(x["space_id"], x["ts"], Model.klass(x)) for x in late}), \
                "%s: a batch adds one row per cell it touches: %s -> %s" % (e.name, before, after)
            n = len(first) + len(late)
            assert e.query("SELECT count(), uniqExact(event_id) FROM events", FINGERPRINT_DB) == [[n, n]], e.name
            assert e.query("SELECT toInt64(sum(events)) FROM space_second_counts", FINGERPRINT_DB) == [[n]], e.name
        finally:
            e.execute("DROP DATABASE IF EXISTS " + FINGERPRINT_DB)


VERSION_DB = DB + "_version"


def test_events_version_blocks(engines):
    """What warehouse.EventsVersion counts on, on both engines: an insert's part takes a block
    number above every part before it, with its rows and their time range; a merge's part has its
    inputs' block range, the union of their time ranges and their rows less the copies it folds;
    the horizon never goes down."""
    sql = query_text("events_version")
    window = {"from": DateTime(T0 - 3600), "to": DateTime(T0 + 3600)}
    for e in engines:
        e.execute("DROP DATABASE IF EXISTS " + VERSION_DB)
        try:
            migrate(e, VERSION_DB)
            e.execute("SYSTEM STOP MERGES %s.events" % VERSION_DB)

            def parts():
                row = e.query(bind(sql, window), VERSION_DB)[0]
                return row[7], [array(str(v)) for v in row[9:11] + row[12:15]]  # horizon, lo, hi, rows, tmin, tmax

            seen, batches = [], BATCHES[:3] + [BATCHES[0][:7]]  # then copies of 7 landed events
            for batch in batches:
                e.execute(insert_sql(VERSION_DB, batch))
                horizon, (lo, hi, nrows, tmin, tmax) = parts()
                i = hi.index(max(hi))
                ts = [x["ts"] for x in batch]
                assert horizon == hi[i] == lo[i] and all(horizon > h for h in seen), (e.name, horizon, lo, hi)
                assert (nrows[i], tmin[i], tmax[i]) == (len(batch), min(ts), max(ts)), (e.name, nrows, tmin, tmax)
                seen.append(horizon)
            e.execute("SYSTEM START MERGES %s.events" % VERSION_DB)
            e.execute("OPTIMIZE TABLE %s.events FINAL" % VERSION_DB)
            horizon, (lo, hi, nrows, tmin, tmax) = parts()
            ts = [x["ts"] for b in batches for x in b]
            assert (horizon, lo, hi) == (seen[-1], [1], [seen[-1]]), (e.name, horizon, lo, hi)
            assert (nrows, tmin, tmax) == ([sum(len(b) for b in batches[:3])], [min(ts)], [max(ts)]), (e.name, nrows, tmin, tmax)
        finally:
            e.execute("DROP DATABASE IF EXISTS " + VERSION_DB)


def test_weighted_quantile_sums_corrections(engines):
    """join_latency.sql and summary.sql give quantilesExactWeighted the latency rollup's rows
    unsummed, a reconciler's negative corrections included (toUInt64 wraps them): both engines
    must sum a value's weights modulo 2**64, and never land a rank on a value whose weights
    cancel. Net weights here: 1 -> 1, 2 -> 1, 3 -> 1 (0 cancels): nearest-rank p50 2, p99 3."""
    rows = "[(1, 2), (2, 1), (1, -1), (3, 1), (0, 1), (0, -1)]"
    sql = ("SELECT toInt64(sum(w)), quantilesExactWeighted(0.5, 0.99)(x, toUInt64(w)) "
           "FROM (SELECT arrayJoin(%s) AS t, toInt64(t.1) AS x, toInt64(t.2) AS w)" % rows)
    for e in engines:
        got = e.query(sql)
        assert [[r[0], str(r[1]).replace(" ", "")] for r in got] == [[3, "[2,3]"]], "%s: %s" % (e.name, got)
