-- listening: the listening time and mid-session drops of a space over the window [@from, @to],
-- from the raw events table, which holds each event once. A column of warehouse.Summary (the
-- report, the demo), apart from summary.sql because it reads every join and leave of the room up
-- to @to, grouped by session: 1.7 s of the 1.8 s the two took together on the demo night (9M
-- events, clickhouse-client), so the rooms table, which shows neither figure, leaves it out.
--
--   listening_seconds       sum over sessions of the part of [join.ts, leave.ts) inside the window;
--                           a session without a leave yet runs to the window end. Equals the sum
--                           of CCL(t) over the window's seconds when every leave follows its join.
--   sessions_listening      sessions with some listening time in the window
--   mid_session_drops       leaves in the window with reason network or error (distinct event ids)
--   drops_per_1000_listener_minutes  mid_session_drops / (listening_seconds / 60) * 1000, NULL
--                           without listening time
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (inclusive)
--   @to            DateTime  last second of the window (inclusive, @to >= @from)
-- Returns one row (the columns above).
WITH
    -- assumeNotNull: current ClickHouse makes scalar subqueries Nullable; each returns one row.
    assumeNotNull((
        SELECT tuple(toInt64(sum(overlap)), toInt64(countIf(overlap > 0)))
        FROM
        (
            SELECT greatest(toInt64(0),
                least(session_end, toInt64(toUInt32(@to)) + 1) - greatest(session_start, toInt64(toUInt32(@from)))) AS overlap
            FROM
            (
                SELECT
                    toInt64(toUInt32(minIf(ts, kind = 'join'))) AS session_start,
                    if(countIf(kind = 'leave') > 0,
                        toInt64(toUInt32(maxIf(ts, kind = 'leave'))),
                        toInt64(toUInt32(@to)) + 1) AS session_end
                FROM events
                WHERE space_id = @space AND ts <= @to AND kind IN ('join', 'leave')
                GROUP BY session_id
                HAVING countIf(kind = 'join') > 0
            )
        )
    )) AS listening,
    -- Distinct ids, not count(): a copy of an event that two members landed (the bounded exception
    -- of consumers/ingest/doc.go) stays in events until a merge folds it; the drops are few.
    assumeNotNull((
        SELECT toInt64(uniqExact(event_id))
        FROM events
        WHERE space_id = @space AND ts >= @from AND ts <= @to
          AND kind = 'leave' AND reason IN ('network', 'error')
    )) AS drops
SELECT
    tupleElement(listening, 1) AS listening_seconds,
    tupleElement(listening, 2) AS sessions_listening,
    drops AS mid_session_drops,
    if(listening_seconds > 0, mid_session_drops * 60000 / listening_seconds, NULL) AS drops_per_1000_listener_minutes
