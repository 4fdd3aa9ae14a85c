package warehouse_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// event is one row of the events table, as the consumer inserts it.
type event struct {
	ID         uuid.UUID
	Kind       string // join, leave, error
	TsMs       int64
	Space      string
	Session    uuid.UUID
	User       string
	Role       string
	Client     string
	AppVersion string
	Region     string
	Country    string
	JoinMs     int64 // -1 when absent
	Attempt    uint16
	Reason     string
	Phase      string
	Code       string
	HTTPStatus uint16
	Partition  int32
	Offset     int64
}

func (e event) sec() int64 { return e.TsMs / 1000 }

// insertEvents inserts evs as one batch, the way the consumer does.
func insertEvents(t testing.TB, ctx context.Context, conn driver.Conn, evs []event) {
	t.Helper()
	if err := insertBatch(ctx, conn, evs); err != nil {
		t.Fatal(err)
	}
}

// insertBatch is insertEvents for any goroutine.
func insertBatch(ctx context.Context, conn driver.Conn, evs []event) error {
	batch, err := conn.PrepareBatch(ctx, warehouse.InsertEvents)
	if err != nil {
		return fmt.Errorf("prepare batch: %w", err)
	}
	defer batch.Abort() //nolint:errcheck // no-op after Send
	for _, e := range evs {
		err := batch.Append(e.ID, e.Kind, time.Unix(e.sec(), 0).UTC(), e.TsMs, e.Space, e.Session, e.User,
			e.Role, e.Client, e.AppVersion, e.Region, e.Country, e.JoinMs, e.Attempt, e.Reason, e.Phase,
			e.Code, e.HTTPStatus, e.Partition, e.Offset)
		if err != nil {
			return fmt.Errorf("append %v: %w", e.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send batch of %d: %w", len(evs), err)
	}
	return nil
}

// t0 is the start of the generated data: the Trump-Musk night.
var t0 = time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)

var (
	technicalCodes = []string{"details_not_available", "space_not_available", "timeout", "server_error", "rate_limited", "network", "media", "some_new_code"}
	businessCodes  = schemas.BusinessCodes()
	clients        = []string{"ios", "android", "web", ""}
	regions        = []string{"us-east-1", "eu-west-1", ""}
	countries      = []string{"US", "GB", "JP", ""}
)

// generate makes a deterministic set of events for space over about `minutes` minutes from
// start: users who try to join (retrying after failures), listen and leave (some by network
// error, some still listening at the end), session errors, and quiet stretches with no events.
// busy minutes have many attempts, the others few, so both sides of MinAttempts occur.
func generate(seed uint64, space string, start time.Time, users, minutes int) []event {
	r := rand.New(rand.NewPCG(seed, 7))
	var evs []event
	span := int64(minutes) * 60_000
	newID := func() uuid.UUID {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		id, _ := uuid.FromBytes(b[:])
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		return id
	}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	for u := 0; u < users; u++ {
		user := "user-" + strconv.Itoa(u)
		client, region, country := pick(clients), pick(regions), pick(countries)
		// Arrivals bunch in the first third (a herd), the rest spread out; a gap of quiet minutes
		// in the middle leaves empty seconds and minutes.
		var at int64
		if r.IntN(3) > 0 {
			at = r.Int64N(span / 3)
		} else {
			at = span/2 + r.Int64N(span/2)
		}
		base := event{Space: space, User: user, Role: "listener", Client: client, AppVersion: "10.53.0",
			Region: region, Country: country, JoinMs: -1}
		if u%17 == 0 {
			base.Role = "speaker"
		}
		for attempt := 0; attempt < 4; attempt++ {
			e := base
			e.ID, e.Session, e.Attempt = newID(), newID(), uint16(attempt)
			e.TsMs = start.UnixMilli() + at
			roll := r.IntN(100)
			switch {
			case roll < 30: // technical join failure, retried
				e.Kind, e.Phase, e.Code, e.HTTPStatus = "error", "join", pick(technicalCodes), 503
				evs = append(evs, e)
				at += 500 + r.Int64N(20_000)
				if r.IntN(5) == 0 {
					attempt = 4 // gives up
				}
				continue
			case roll < 38: // business failure, not retried
				e.Kind, e.Phase, e.Code, e.HTTPStatus = "error", "join", pick(businessCodes), 403
				evs = append(evs, e)
				attempt = 4
				continue
			}
			e.Kind = "join"
			if r.IntN(10) > 0 {
				e.JoinMs = r.Int64N(5000)
			}
			evs = append(evs, e)
			stay := r.Int64N(span / 2)
			if r.IntN(6) == 0 { // a session error during the session
				se := base
				se.ID, se.Session, se.Kind, se.Phase, se.Code = newID(), e.Session, "error", "session", "media"
				se.TsMs = e.TsMs + stay/2
				evs = append(evs, se)
			}
			if r.IntN(8) == 0 { // still listening at the end of the data
				break
			}
			l := base
			l.ID, l.Session, l.Kind = newID(), e.Session, "leave"
			l.TsMs = e.TsMs + stay
			l.Reason = []string{"user", "user", "user", "network", "error", "kicked"}[r.IntN(6)]
			evs = append(evs, l)
			break
		}
	}
	for i := range evs {
		evs[i].Partition, evs[i].Offset = int32(i%4), int64(i)
	}
	return evs
}

// deliver turns evs into insert batches the way the consumer lands them: shuffled (out of order,
// late events in later batches), each event once (keeping copies out is the consumer's job, and
// is tested in consumers/ingest).
func deliver(seed uint64, evs []event, batches int) [][]event {
	r := rand.New(rand.NewPCG(seed, 11))
	all := append([]event(nil), evs...)
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	out := make([][]event, batches)
	for i, e := range all {
		out[i%batches] = append(out[i%batches], e)
	}
	return out
}
