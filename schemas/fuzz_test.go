package schemas

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary values to both codecs: they must never panic, and
// every value is either a valid event (which re-encodes and decodes to itself)
// or an invalid-event error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(validJSON), false)
	f.Add([]byte(`{"kind":"join"}`), false)
	f.Add([]byte(`{"event_id":"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31","ts":"2024-08-13T00:42:17Z"}`), false)
	f.Add([]byte{0x0a, 0x03, 'a', 'b', 'c'}, true)
	d := NewDecoder()
	var enc JSONEncoder
	f.Fuzz(func(t *testing.T, value []byte, protobuf bool) {
		ct := ContentTypeJSON
		if protobuf {
			ct = ContentTypeProtobuf
		}
		var ev Event
		err := d.Decode(ct, value, &ev, testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		want := ev.Clone()
		out := enc.AppendJSON(nil, &want)
		var again Event
		if err := d.Decode(ContentTypeJSON, out, &again, testNow); err != nil {
			t.Fatalf("valid event re-encoded as %s does not decode: %v", out, err)
		}
		if again != want {
			t.Fatalf("re-encode changed the event: %+v vs %+v", again, want)
		}
	})
}
