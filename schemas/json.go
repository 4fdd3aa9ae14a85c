package schemas

import (
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
)

// JSONDecoder decodes JSON event values. It reuses its parse buffers, so
// decoding allocates nothing for a typical event; the Event it fills aliases
// those buffers until the next Decode. A JSONDecoder is not safe for
// concurrent use: give each goroutine its own.
type JSONDecoder struct {
	p     fastjson.Parser
	ev    *Event
	err   *InvalidError
	seen  uint32
	visit func(key []byte, v *fastjson.Value)
}

// Bits of JSONDecoder.seen for the required fields.
const (
	seenEventID = 1 << iota
	seenKind
	seenTS
	seenSpace
	seenSession
	seenUser
	seenPhase
	seenCode
	seenAll = seenEventID | seenKind | seenTS | seenSpace | seenSession | seenUser
)

// NewJSONDecoder returns a decoder ready for use.
func NewJSONDecoder() *JSONDecoder {
	d := &JSONDecoder{}
	d.visit = d.field // bound once so Decode does not allocate a closure per call
	return d
}

// Decode parses value into ev and validates it against the contract with now
// as the receiver's clock. It returns nil or an error matching ErrInvalid
// (an *InvalidError whose message is the dead-letter reason).
func (d *JSONDecoder) Decode(value []byte, ev *Event, now time.Time) error {
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

func missing(seen uint32) error {
	names := [...]string{"event_id", "kind", "ts", "space_id", "session_id", "user_id"}
	for i, n := range names {
		if seen&(1<<i) == 0 {
			return invalid(n, "missing (required)")
		}
	}
	return nil
}

// field handles one key of the top-level object; the first error wins.
func (d *JSONDecoder) field(key []byte, v *fastjson.Value) {
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

func (d *JSONDecoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = invalid(field, format, args...)
	}
}

// str returns the bytes of a JSON string; they alias the parser's buffer.
func (d *JSONDecoder) str(field string, v *fastjson.Value) []byte {
	b, err := v.StringBytes()
	if err != nil {
		d.fail(field, "want a string, got %s", v.Type())
		return nil
	}
	return b
}

func (d *JSONDecoder) optStr(field string, v *fastjson.Value) string {
	if v.Type() == fastjson.TypeNull {
		return ""
	}
	return str(d.str(field, v))
}

func (d *JSONDecoder) int(field string, v *fastjson.Value, lo, hi int64) int64 {
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

func (d *JSONDecoder) uuid(field string, v *fastjson.Value) uuid.UUID {
	b := d.str(field, v)
	if b == nil {
		return uuid.Nil
	}
	id, err := parseUUID(b)
	if err != nil {
		d.fail(field, "%q is not a UUID", b)
	}
	return id
}

// ts accepts integer milliseconds or an RFC 3339 string with any offset.
func (d *JSONDecoder) ts(v *fastjson.Value) int64 {
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

// parseUUID accepts the canonical 36-character form, any version, any case.
func parseUUID(b []byte) (uuid.UUID, error) {
	if len(b) != 36 {
		return uuid.Nil, ErrInvalid
	}
	return uuid.ParseBytes(b)
}

// str views b as a string without copying. The string is only valid while b
// is unchanged: here, until the decoder's next call.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// oneLine keeps a parser message on one line (it becomes a Kafka header).
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	if len(b) > 200 {
		b = append(b[:197], "..."...)
	}
	return string(b)
}
