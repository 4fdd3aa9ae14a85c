package warehouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
)

// What the consumer asks the warehouse to keep copies of an event out of it
// (consumers/ingest: the landed-event index).

// EventKey is the part of the events table's sort key (space_id, ts, event_id) that finds one
// stored event without reading others' granules.
type EventKey struct {
	Space  string
	Second int64 // unix seconds of the event's ts
	ID     uuid.UUID
}

// storedChunk is how many keys one StoredEvents query carries.
const storedChunk = 2000

// LandedSince calls add for every event stored with ts >= since (unix seconds and id), in no
// particular order. It reads the ts and event_id columns of the month partitions from since's on:
// the consumer runs it when partitions are assigned to it, to learn what other members landed.
func LandedSince(ctx context.Context, conn Querier, since time.Time, add func(second int64, id uuid.UUID)) error {
	rows, err := conn.Query(ctx, "SELECT toUInt32(ts), event_id FROM events WHERE ts >= toDateTime(@since, 'UTC')",
		clickhouse.Named("since", max(since.Unix(), 0)))
	if err != nil {
		return fmt.Errorf("read events landed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	defer rows.Close()
	var (
		sec uint32
		id  uuid.UUID
	)
	for rows.Next() {
		if err := rows.Scan(&sec, &id); err != nil {
			return fmt.Errorf("read events landed since %s: %w", since.UTC().Format(time.RFC3339), err)
		}
		add(int64(sec), id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events landed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// StoredEvents returns the ids of those keys whose event is already stored. Each lookup reads the
// granule of its (space_id, ts) in the sort key, so it is meant for a few late events per batch,
// not for every event.
func StoredEvents(ctx context.Context, conn Querier, keys []EventKey) ([]uuid.UUID, error) {
	var out []uuid.UUID
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), storedChunk)]
		keys = keys[len(chunk):]
		found, err := storedChunkOf(ctx, conn, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func storedChunkOf(ctx context.Context, conn Querier, keys []EventKey) ([]uuid.UUID, error) {
	var q strings.Builder
	// The two INs also let through pairs that are not keys (one event's second, another's id):
	// the rows come back whole and only exact keys count.
	q.WriteString("SELECT DISTINCT space_id, toUInt32(ts), event_id FROM events WHERE (space_id, ts) IN (")
	for i, k := range keys {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		q.WriteString(quoteString(k.Space))
		q.WriteString(", '")
		q.WriteString(time.Unix(k.Second, 0).UTC().Format(time.DateTime))
		q.WriteString("')")
	}
	q.WriteString(") AND event_id IN (")
	for i, k := range keys {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("toUUID('")
		q.WriteString(k.ID.String())
		q.WriteString("')")
	}
	q.WriteString(")")
	rows, err := conn.Query(ctx, q.String())
	if err != nil {
		return nil, fmt.Errorf("look up %d events: %w", len(keys), err)
	}
	defer rows.Close()
	want := make(map[EventKey]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var out []uuid.UUID
	for rows.Next() {
		var (
			k   EventKey
			sec uint32
		)
		if err := rows.Scan(&k.Space, &sec, &k.ID); err != nil {
			return nil, fmt.Errorf("look up %d events: %w", len(keys), err)
		}
		if k.Second = int64(sec); want[k] {
			out = append(out, k.ID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up %d events: %w", len(keys), err)
	}
	return out, nil
}

// quoteString writes s as a ClickHouse string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
