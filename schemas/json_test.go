package schemas

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var testNow = time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)

const validJSON = `{"event_id":"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31","kind":"error","ts":1723509737123,
 "space_id":"1YqJDqWLyEMGV","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d",
 "user_id":"1587234098","client":"ios","app_version":"10.53.0","region":"us-east-1",
 "phase":"join","code":"details_not_available","http_status":503,"attempt":2}`

func TestJSONDecodeValid(t *testing.T) {
	d := NewJSONDecoder()
	var ev Event
	if err := d.Decode([]byte(validJSON), &ev, testNow); err != nil {
		t.Fatalf("decode the README.md example: %v", err)
	}
	want := Event{
		EventID: uuid.MustParse("6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31"), Kind: KindError, TS: 1723509737123,
		SpaceID: "1YqJDqWLyEMGV", SessionID: uuid.MustParse("b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d"),
		UserID: "1587234098", Role: RoleListener, Client: "ios", AppVersion: "10.53.0", Region: "us-east-1",
		JoinMS: -1, Attempt: 2, Phase: PhaseJoin, Code: "details_not_available", HTTPStatus: 503,
	}
	if ev != want {
		t.Fatalf("decoded\n%+v\nwant\n%+v", ev, want)
	}
	if !ev.IsTechnicalJoinError() {
		t.Fatalf("details_not_available in phase join must be a technical join error")
	}

	f := func(body string, check func(e *Event) bool) {
		t.Helper()
		var e Event
		if err := d.Decode([]byte(body), &e, testNow); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if !check(&e) {
			t.Fatalf("decode %s: unexpected %+v", body, e)
		}
	}
	base := `"event_id":"6F1C0A4E-3A8B-4F7E-9D2A-0C5E7B1D9A31","space_id":"s","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d","user_id":"u"`
	f(`{`+base+`,"kind":"join","ts":"2024-08-13T00:42:17.123Z","join_ms":850}`, func(e *Event) bool {
		return e.TS == 1723509737123 && e.JoinMS == 850 && e.Kind == KindJoin
	})
	f(`{`+base+`,"kind":"join","ts":"2024-08-12T20:42:17.123-04:00"}`, func(e *Event) bool { return e.TS == 1723509737123 })
	f(`{`+base+`,"kind":"leave","ts":1723509737123,"reason":"ended","role":"host","future_field":{"x":[1,2]}}`, func(e *Event) bool {
		return e.Reason == ReasonEnded && e.Role == RoleHost
	})
	f(`{`+base+`,"kind":"leave","ts":1723509737123,"client":null,"reason":null}`, func(e *Event) bool { return e.Client == "" })
	f(`{`+base+`,"kind":"error","ts":1723509737123,"phase":"session","code":"media"}`, func(e *Event) bool {
		return e.Phase == PhaseSession && !e.IsTechnicalJoinError()
	})
	f(`{`+base+`,"kind":"error","ts":1723509737123,"phase":"join","code":"space_ended"}`, func(e *Event) bool {
		return !e.IsTechnicalJoinError() && IsBusinessCode(e.Code)
	})
	f(`{`+base+`,"kind":"join","ts":1723509737123,"user_id":"caf\u00e9 \ud83c\udf89"}`, func(e *Event) bool { return e.UserID == "café 🎉" })
}

func TestJSONDecodeInvalid(t *testing.T) {
	d := NewJSONDecoder()
	base := `"event_id":"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31","space_id":"s","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d","user_id":"u","ts":1723509737123`
	f := func(body, wantReason string) {
		t.Helper()
		var e Event
		err := d.Decode([]byte(body), &e, testNow)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("decode %.80s: got %v, want an invalid-event error", body, err)
		}
		if !strings.Contains(err.Error(), wantReason) {
			t.Fatalf("decode %.80s: reason %q does not mention %q", body, err, wantReason)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("reason %q is not one line", err)
		}
	}
	f(`{"kind":"join",`, "malformed JSON")
	f(`[1,2]`, "not an object")
	f(``, "malformed JSON")
	f("{"+base+`,"kind":"join","user_id":"`+"\xff\xfe"+`"}`, "not valid UTF-8")
	f("{"+base+`,"kind":"join","user_id":"\x41"}`, "malformed JSON")
	f("{"+base+`,"kind":"join","join_ms":012}`, "malformed JSON")
	f("{"+base+`,"kind":"join"} trailing`, "malformed JSON")
	f("{"+base+`,"kind":"jump"}`, `kind: unknown kind "jump"`)
	f("{"+base+`}`, "kind: missing")
	f(`{"kind":"join","ts":1723509737123,"space_id":"s","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d","user_id":"u"}`, "event_id: missing")
	f("{"+base+`,"kind":"join","event_id":"not-a-uuid"}`, "event_id")
	f("{"+base+`,"kind":"join","event_id":42}`, "event_id: want a string")
	f("{"+base+`,"kind":"join","ts":"yesterday"}`, "not RFC 3339")
	f("{"+base+`,"kind":"join","ts":1.5}`, "ts: want integer")
	f("{"+base+`,"kind":"join","ts":1000}`, "before 2006-01-01")
	f("{"+base+`,"kind":"join","ts":1823509737123}`, "in the future")
	f("{"+base+`,"kind":"join","ts":true}`, "ts: want integer")
	f("{"+base+`,"kind":"error","phase":"join","code":"timeout","http_status":999}`, "http_status: 999 is outside")
	f("{"+base+`,"kind":"join","attempt":-1}`, "attempt: -1 is outside")
	f("{"+base+`,"kind":"join","attempt":"2"}`, "attempt: want an integer")
	f("{"+base+`,"kind":"join","join_ms":-5}`, "join_ms")
	f("{"+base+`,"kind":"leave","join_ms":5}`, "only a join carries join_ms")
	f("{"+base+`,"kind":"join","reason":"user"}`, "only a leave carries a reason")
	f("{"+base+`,"kind":"leave","reason":"bored"}`, "unknown reason")
	f("{"+base+`,"kind":"error","code":"timeout"}`, "phase: required")
	f("{"+base+`,"kind":"error","phase":"join"}`, "code: required")
	f("{"+base+`,"kind":"error","phase":"join","code":"Not-Snake"}`, "not snake_case")
	f("{"+base+`,"kind":"join","space_id":""}`, "space_id: missing or empty")
	f("{"+base+`,"kind":"join","space_id":"`+strings.Repeat("x", 65)+`"}`, "space_id: 65 bytes")
	f("{"+base+`,"kind":"join","user_id":"`+strings.Repeat("x", 129)+`"}`, "user_id: 129 bytes")
	f("{"+base+`,"kind":"join","client":"`+strings.Repeat("x", 33)+`"}`, "client: 33 bytes")
	f("{"+base+`,"kind":"join","country":"USA"}`, "country")
	f("{"+base+`,"kind":"join","role":"king"}`, "unknown role")
	f("{"+base+`,"kind":"join","pad":"`+strings.Repeat("x", MaxValueBytes)+`"}`, "over the 64 KiB limit")
}

func TestJSONRoundTrip(t *testing.T) {
	d := NewJSONDecoder()
	var enc JSONEncoder
	var ev Event
	if err := d.Decode([]byte(validJSON), &ev, testNow); err != nil {
		t.Fatal(err)
	}
	want := ev.Clone()
	out := enc.AppendJSON(nil, &want)
	var got Event
	if err := d.Decode(out, &got, testNow); err != nil {
		t.Fatalf("decode own output %s: %v", out, err)
	}
	if got != want {
		t.Fatalf("round trip changed the event:\n%+v\n%+v", got, want)
	}
}
