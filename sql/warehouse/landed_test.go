package warehouse_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestLandedLookups stores events and asks for them back, as the consumer's index does: every
// event since a moment, and which of a set of keys (some stored, some not, a space id that needs
// escaping) are stored.
func TestLandedLookups(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	evs := generate(7, `it's a \ room`, t0, 120, 4)
	insertEvents(t, ctx, conn, evs)
	since := t0.Add(2 * time.Minute)
	var want []uuid.UUID
	for _, e := range evs {
		if e.sec() >= since.Unix() {
			want = append(want, e.ID)
		}
	}
	var got []uuid.UUID
	err := warehouse.LandedSince(ctx, conn, since, func(sec int64, id uuid.UUID) {
		if sec < since.Unix() {
			t.Errorf("LandedSince(%v) gave an event of %v", since, time.Unix(sec, 0).UTC())
		}
		got = append(got, id)
	})
	if err != nil {
		t.Fatal(err)
	}
	cmp := func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("LandedSince: %d ids, want %d (> 0)", len(got), len(want))
	}

	var keys []warehouse.EventKey
	var stored []uuid.UUID
	for i, e := range evs[:min(len(evs), 3000)] {
		k := warehouse.EventKey{Space: e.Space, Second: e.sec(), ID: e.ID}
		switch i % 3 {
		case 0:
			stored = append(stored, e.ID)
		case 1:
			k.ID = uuid.New() // not stored
		case 2:
			k.Second++ // the same id at another second is another event key: not stored
		}
		keys = append(keys, k)
	}
	found, err := warehouse.StoredEvents(ctx, conn, keys)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(found, cmp)
	slices.SortFunc(stored, cmp)
	if !slices.Equal(found, stored) {
		t.Fatalf("StoredEvents: %d found, want %d", len(found), len(stored))
	}
}
