-- 0003: per-minute rollup with the dimensions used to break failures down (by code, client,
-- region, country, app version) and to watch leaves by reason.
--
-- One row per (space, minute, kind, phase, technical, code, reason, client, app_version, region,
-- country) and insert block. `event_ids` is a uniqExact state of event ids, so duplicates count
-- once (same argument as 0002: a copy has the same ts and the same dimensions, so the same cell).
-- Distinct users are deliberately not rolled up here: a uniqExact state of user_id (a String,
-- hashed with SipHash128 per row) cost more than the rest of this view on an insert of 1M events;
-- queries that need users read the raw table.
--
-- technical = 1 for a join-phase or session error whose code is not a business code
-- (space_ended, auth, geo_blocked); 0 for business errors, joins and leaves.
--
-- {db} is replaced by the target database when the migration runs (see warehouse.Migrate).
CREATE TABLE IF NOT EXISTS {db}.space_minute
(
    space_id    String,
    minute      DateTime('UTC'),
    kind        Enum8('join' = 1, 'leave' = 2, 'error' = 3),
    phase       Enum8('' = 0, 'join' = 1, 'session' = 2),
    technical   UInt8,
    code        String,
    reason      Enum8('' = 0, 'user' = 1, 'ended' = 2, 'kicked' = 3, 'network' = 4, 'error' = 5),
    client      String,
    app_version String,
    region      String,
    country     String,
    event_ids   AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country)
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.space_minute_mv TO {db}.space_minute
AS SELECT
    space_id,
    toStartOfMinute(ts) AS minute,
    kind,
    phase,
    toUInt8(kind = 'error' AND code NOT IN ({business_codes})) AS technical,
    code,
    reason,
    client,
    app_version,
    region,
    country,
    uniqExactState(event_id) AS event_ids
FROM {db}.events
GROUP BY space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country
