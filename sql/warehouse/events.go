package warehouse

// EventColumns are the columns of the events table that a writer fills, in the order of the
// contract (0001_events.sql); inserted_at is filled by the server. ClickHouse 18.16 only accepts
// clickhouse-go batches whose INSERT names its columns.
const EventColumns = "event_id, kind, ts, ts_ms, space_id, session_id, user_id, role, client, app_version, " +
	"region, country, join_ms, attempt, reason, phase, code, http_status, kafka_partition, kafka_offset"

// InsertEvents is the statement to pass to driver.Conn.PrepareBatch to write events (unqualified:
// the connection's database, as Open binds it).
const InsertEvents = "INSERT INTO events (" + EventColumns + ")"
