package schemas

// The decoders as they were before the single-pass scanners (fastjson's
// validator and parser for JSON, proto.Unmarshal for Protobuf): the
// reference the differential tests of decode_diff_test.go compare the
// decoders with. Only the names changed.

import (
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/proto"

	"github.com/spacepulse/spacepulse/schemas/pb"
)

// refJSONDecoder decodes JSON event values. It reuses its parse buffers, so
// decoding allocates nothing for a typical event; the Event it fills aliases
// those buffers until the next Decode. A refJSONDecoder is not safe for
// concurrent use: give each goroutine its own.
type refJSONDecoder struct {
	p     fastjson.Parser
	ev    *Event
	err   *InvalidError
	seen  uint32
	visit func(key []byte, v *fastjson.Value)
}

// newRefJSONDecoder returns a decoder ready for use.
func newRefJSONDecoder() *refJSONDecoder {
	d := &refJSONDecoder{}
	d.visit = d.field // bound once so Decode does not allocate a closure per call
	return d
}

// Decode parses value into ev and validates it against the contract with now
// as the receiver's clock. It returns nil or an error matching ErrInvalid
// (an *InvalidError whose message is the dead-letter reason).
func (d *refJSONDecoder) Decode(value []byte, ev *Event, now time.Time) error {
	if len(value) > MaxValueBytes {
		return invalid("", "value of %d bytes is over the 64 KiB limit", len(value))
	}
	if !utf8.Valid(value) {
		return invalid("", "malformed JSON: not valid UTF-8")
	}
	// fastjson's parser is lenient (it keeps unknown escapes such as \x and
	// leading zeros); its validator applies the JSON grammar strictly.
	if err := fastjson.ValidateBytes(value); err != nil {
		return invalid("", "malformed JSON: %s", oneLine(err.Error()))
	}
	v, err := d.p.ParseBytes(value)
	if err != nil {
		return invalid("", "malformed JSON: %s", oneLine(err.Error()))
	}
	obj, err := v.Object()
	if err != nil {
		return invalid("", "malformed JSON: the value is a %s, not an object", v.Type())
	}
	ev.Reset()
	d.ev, d.err, d.seen = ev, nil, 0
	obj.Visit(d.visit)
	d.ev = nil
	if d.err != nil {
		return d.err
	}
	if d.seen&seenAll != seenAll {
		return missing(d.seen)
	}
	if ev.Kind == KindError && d.seen&seenPhase == 0 {
		return invalid("phase", "required for an error: \"join\" or \"session\"")
	}
	if ev.Kind == KindError && d.seen&seenCode == 0 {
		return invalid("code", "required for an error")
	}
	return Validate(ev, now)
}

// field handles one key of the top-level object; the first error wins.
func (d *refJSONDecoder) field(key []byte, v *fastjson.Value) {
	if d.err != nil {
		return
	}
	e := d.ev
	isNull := v.Type() == fastjson.TypeNull
	switch string(key) {
	case "event_id":
		d.seen |= seenEventID
		e.EventID = d.uuid("event_id", v)
	case "session_id":
		d.seen |= seenSession
		e.SessionID = d.uuid("session_id", v)
	case "kind":
		d.seen |= seenKind
		s := d.str("kind", v)
		if e.Kind = Kind(lookup(kindNames[:], s)); e.Kind == 0 && d.err == nil {
			d.fail("kind", "unknown kind %q (want join, leave or error)", s)
		}
	case "ts":
		d.seen |= seenTS
		e.TS = d.ts(v)
	case "space_id":
		d.seen |= seenSpace
		e.SpaceID = str(d.str("space_id", v))
	case "user_id":
		d.seen |= seenUser
		e.UserID = str(d.str("user_id", v))
	case "role":
		if !isNull {
			s := d.str("role", v)
			if e.Role = Role(lookup(roleNames[:], s)); e.Role == 0 && d.err == nil {
				d.fail("role", "unknown role %q (want listener, speaker, host or cohost)", s)
			}
		}
	case "client":
		e.Client = d.optStr("client", v)
	case "app_version":
		e.AppVersion = d.optStr("app_version", v)
	case "region":
		e.Region = d.optStr("region", v)
	case "country":
		e.Country = d.optStr("country", v)
	case "join_ms":
		if !isNull {
			e.JoinMS = d.int("join_ms", v, 0, 1<<62)
		}
	case "attempt":
		if !isNull {
			e.Attempt = uint16(d.int("attempt", v, 0, MaxAttempt))
		}
	case "reason":
		if !isNull {
			s := d.str("reason", v)
			if e.Reason = Reason(lookup(reasonNames[:], s)); e.Reason == 0 && d.err == nil {
				d.fail("reason", "unknown reason %q (want user, ended, kicked, network or error)", s)
			}
		}
	case "phase":
		if !isNull {
			d.seen |= seenPhase
			s := d.str("phase", v)
			if e.Phase = Phase(lookup(phaseNames[:], s)); e.Phase == 0 && d.err == nil {
				d.fail("phase", "unknown phase %q (want join or session)", s)
			}
		}
	case "code":
		if !isNull {
			d.seen |= seenCode
			e.Code = str(d.str("code", v))
		}
	case "http_status":
		if !isNull {
			e.HTTPStatus = uint16(d.int("http_status", v, 100, 599))
		}
	}
	// Unknown fields are ignored (forward compatibility).
}

func (d *refJSONDecoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = invalid(field, format, args...)
	}
}

// str returns the bytes of a JSON string; they alias the parser's buffer.
func (d *refJSONDecoder) str(field string, v *fastjson.Value) []byte {
	b, err := v.StringBytes()
	if err != nil {
		d.fail(field, "want a string, got %s", v.Type())
		return nil
	}
	return b
}

func (d *refJSONDecoder) optStr(field string, v *fastjson.Value) string {
	if v.Type() == fastjson.TypeNull {
		return ""
	}
	return str(d.str(field, v))
}

func (d *refJSONDecoder) int(field string, v *fastjson.Value, lo, hi int64) int64 {
	if v.Type() != fastjson.TypeNumber {
		d.fail(field, "want an integer, got %s", v.Type())
		return 0
	}
	n, err := v.Int64()
	if err != nil {
		d.fail(field, "want an integer, got %s", v.String())
		return 0
	}
	if n < lo || n > hi {
		d.fail(field, "%d is outside %d-%d", n, lo, hi)
		return 0
	}
	return n
}

func (d *refJSONDecoder) uuid(field string, v *fastjson.Value) uuid.UUID {
	b := d.str(field, v)
	if b == nil {
		return uuid.Nil
	}
	id, err := refParseUUID(b)
	if err != nil {
		d.fail(field, "%q is not a UUID", b)
	}
	return id
}

// ts accepts integer milliseconds or an RFC 3339 string with any offset.
func (d *refJSONDecoder) ts(v *fastjson.Value) int64 {
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			d.fail("ts", "want integer milliseconds or an RFC 3339 string, got %s", v.String())
		}
		return n
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		t, err := time.Parse(time.RFC3339Nano, str(b))
		if err != nil {
			d.fail("ts", "%q is not RFC 3339", b)
			return 0
		}
		return t.UnixMilli()
	default:
		d.fail("ts", "want integer milliseconds or an RFC 3339 string, got %s", v.Type())
		return 0
	}
}

// refProtoDecoder decodes Protobuf event values (schemas/pb/event.proto). It
// reuses its message; it is not safe for concurrent use.
type refProtoDecoder struct {
	m pb.Event
}

// Decode parses value into ev and validates it like JSONDecoder.Decode. In
// proto3 an empty string and a zero ts are indistinguishable from absent, so
// they count as missing.
func (d *refProtoDecoder) Decode(value []byte, ev *Event, now time.Time) error {
	if len(value) > MaxValueBytes {
		return invalid("", "value of %d bytes is over the 64 KiB limit", len(value))
	}
	m := &d.m
	m.Reset()
	if err := (proto.UnmarshalOptions{}).Unmarshal(value, m); err != nil {
		return invalid("", "malformed Protobuf: %s", oneLine(err.Error()))
	}
	ev.Reset()
	for _, f := range [...]struct{ name, v string }{
		{"event_id", m.EventId}, {"kind", m.Kind}, {"space_id", m.SpaceId},
		{"session_id", m.SessionId}, {"user_id", m.UserId},
	} {
		if f.v == "" {
			return invalid(f.name, "missing (required)")
		}
	}
	if m.Ts == 0 {
		return invalid("ts", "missing (required)")
	}
	// proto3 string fields are UTF-8 checked by the runtime; keep the check
	// explicit so the reason is ours.
	for _, s := range [...]string{m.SpaceId, m.UserId, m.Client, m.AppVersion, m.Region, m.Country, m.Code} {
		if !utf8.ValidString(s) {
			return invalid("", "malformed Protobuf: a string is not valid UTF-8")
		}
	}
	var err error
	if ev.EventID, err = refParseUUID([]byte(m.EventId)); err != nil {
		return invalid("event_id", "%q is not a UUID", m.EventId)
	}
	if ev.SessionID, err = refParseUUID([]byte(m.SessionId)); err != nil {
		return invalid("session_id", "%q is not a UUID", m.SessionId)
	}
	if ev.Kind = Kind(lookup(kindNames[:], []byte(m.Kind))); ev.Kind == 0 {
		return invalid("kind", "unknown kind %q (want join, leave or error)", m.Kind)
	}
	if m.Role != "" {
		if ev.Role = Role(lookup(roleNames[:], []byte(m.Role))); ev.Role == 0 {
			return invalid("role", "unknown role %q (want listener, speaker, host or cohost)", m.Role)
		}
	}
	if m.Reason != "" {
		if ev.Reason = Reason(lookup(reasonNames[:], []byte(m.Reason))); ev.Reason == 0 {
			return invalid("reason", "unknown reason %q (want user, ended, kicked, network or error)", m.Reason)
		}
	}
	if m.Phase != "" {
		if ev.Phase = Phase(lookup(phaseNames[:], []byte(m.Phase))); ev.Phase == 0 {
			return invalid("phase", "unknown phase %q (want join or session)", m.Phase)
		}
	}
	ev.TS = m.Ts
	ev.SpaceID, ev.UserID = m.SpaceId, m.UserId
	ev.Client, ev.AppVersion, ev.Region, ev.Country, ev.Code = m.Client, m.AppVersion, m.Region, m.Country, m.Code
	if m.JoinMs != nil {
		if *m.JoinMs < 0 {
			return invalid("join_ms", "%d is negative", *m.JoinMs)
		}
		ev.JoinMS = *m.JoinMs
	}
	if m.Attempt != nil {
		if *m.Attempt < 0 || *m.Attempt > MaxAttempt {
			return invalid("attempt", "%d is outside 0-%d", *m.Attempt, MaxAttempt)
		}
		ev.Attempt = uint16(*m.Attempt)
	}
	if m.HttpStatus != nil {
		if *m.HttpStatus < 100 || *m.HttpStatus > 599 {
			return invalid("http_status", "%d is outside 100-599", *m.HttpStatus)
		}
		ev.HTTPStatus = uint16(*m.HttpStatus)
	}
	return Validate(ev, now)
}

// refParseUUID is the parseUUID of before: uuid.ParseBytes on 36 bytes.
func refParseUUID(b []byte) (uuid.UUID, error) {
	if len(b) != 36 {
		return uuid.Nil, ErrInvalid
	}
	return uuid.ParseBytes(b)
}
