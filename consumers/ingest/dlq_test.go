package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// limitDLQ is a dead-letter topic with a size limit: a letter over perLetter bytes is refused
// with the broker's MessageSizeTooLarge, as is every letter of a call whose letters add up to
// more than perCall; with client, an oversize letter fails the whole call before anything is
// written, as kafka-go's Writer does for a letter over its BatchBytes.
type limitDLQ struct {
	perLetter, perCall int
	client             bool
	calls              int
	written            []kafka.Message
}

func (d *limitDLQ) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.calls++
	total := 0
	for i, m := range msgs {
		total += len(m.Key) + len(m.Value)
		if d.client && len(m.Key)+len(m.Value) > d.perLetter {
			return kafka.MessageTooLargeError{Message: m, Remaining: append(append([]kafka.Message(nil), msgs[:i]...), msgs[i+1:]...)}
		}
	}
	errs := make(kafka.WriteErrors, len(msgs))
	failed := false
	for i, m := range msgs {
		if len(m.Key)+len(m.Value) > d.perLetter || total > d.perCall {
			errs[i], failed = kafka.MessageSizeTooLarge, true
			continue
		}
		d.written = append(d.written, m)
	}
	if failed {
		return errs
	}
	return nil
}

func TestWriteDeadCutsOversizeLetters(t *testing.T) {
	f := func(name string, dlq *limitDLQ, sizes []int, wantCut map[int]bool, wantErr bool) {
		t.Helper()
		p := New(Config{RetryMin: time.Millisecond, RetryMax: time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
			nil, nil, dlq)
		var msgs []kafka.Message
		for i, n := range sizes {
			msgs = append(msgs, kafka.Message{Key: []byte("k"), Value: bytes.Repeat([]byte{'a' + byte(i)}, n),
				Headers: []kafka.Header{{Key: "error", Value: []byte("value over 64 KiB")}}})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := p.writeDead(ctx, msgs)
		if (err != nil) != wantErr {
			t.Fatalf("%s: writeDead: %v, want error %v", name, err, wantErr)
		}
		if wantErr {
			return
		}
		if len(dlq.written) != len(sizes) {
			t.Fatalf("%s: %d letters written, want %d (each once)", name, len(dlq.written), len(sizes))
		}
		for _, m := range dlq.written {
			i := int(m.Value[0] - 'a')
			hdr := ""
			for _, h := range m.Headers {
				if h.Key == TruncatedHeader {
					hdr = string(h.Value)
				}
			}
			switch {
			case wantCut[i] && (len(m.Value) != DeadLetterMaxValue || hdr != strconv.Itoa(sizes[i])):
				t.Errorf("%s: letter %d: %d bytes, %s %q; want %d bytes and the original size %d",
					name, i, len(m.Value), TruncatedHeader, hdr, DeadLetterMaxValue, sizes[i])
			case !wantCut[i] && (len(m.Value) != sizes[i] || hdr != ""):
				t.Errorf("%s: letter %d: %d bytes, %s %q; want it whole (%d bytes)", name, i, len(m.Value), TruncatedHeader, hdr, sizes[i])
			}
			if m.Headers[0].Key != "error" {
				t.Errorf("%s: letter %d lost its error header: %v", name, i, m.Headers)
			}
		}
	}
	const mib = 1 << 20
	f("fits", &limitDLQ{perLetter: 2 * mib, perCall: 16 * mib}, []int{10, 100_000}, nil, false)
	f("broker refuses one letter; the other is not written twice",
		&limitDLQ{perLetter: 2_000_000, perCall: 16 * mib}, []int{10, 2_097_000, 300}, map[int]bool{1: true}, false)
	f("writer refuses a letter over its batch bytes before sending",
		&limitDLQ{perLetter: dlqBatchBytes, perCall: 16 * mib, client: true}, []int{2_097_000, 5}, map[int]bool{0: true}, false)
	f("topic limit 200 KB", &limitDLQ{perLetter: 200_000, perCall: 16 * mib}, []int{300_000, 150_000},
		map[int]bool{0: true}, false)
	f("small letters too large together go one by one",
		&limitDLQ{perLetter: mib, perCall: 100_000}, []int{60_000, 60_000, 60_000}, nil, false)
	f("a letter of 64 KiB refused for size is retried, never lost (ctx ends)",
		&limitDLQ{perLetter: 1_000, perCall: 16 * mib}, []int{5_000}, nil, true)
}
