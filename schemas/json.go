package schemas

import (
	"encoding/binary"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
)

// JSONDecoder decodes JSON event values in one pass over the bytes: a strict
// scanner (jsonscan.go) checks the JSON grammar and UTF-8 as it reads the
// top-level object, decodes the fields of the contract as it meets them and
// skips, still checking, every other value. It accepts and rejects exactly
// what fastjson's validator and parser did (decode_diff_test.go compares the
// two), with no allocation for a valid event.
//
// The Event it fills aliases the decoder's buffer (a copy of the value, with
// escapes decoded in place) until the next Decode; the value itself may be
// reused as soon as Decode returns. A JSONDecoder is not safe for concurrent
// use: give each goroutine its own.
type JSONDecoder struct {
	s    scanner
	buf  []byte
	ev   *Event
	err  *InvalidError
	seen uint32
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
	return &JSONDecoder{}
}

// Decode parses value into ev and validates it against the contract with now
// as the receiver's clock. It returns nil or an error matching ErrInvalid
// (an *InvalidError whose message is the dead-letter reason).
//
// The first rule broken is reported, in this order: the size, UTF-8 (of the
// whole value), the JSON grammar, an object, the fields in their order in the
// value, the required fields, then Validate.
func (d *JSONDecoder) Decode(value []byte, ev *Event, now time.Time) error {
	if len(value) > MaxValueBytes {
		return invalid("", "value of %d bytes is over the 64 KiB limit", len(value))
	}
	d.buf = append(d.buf[:0], value...)
	d.s = scanner{b: d.buf}
	ev.Reset()
	d.ev, d.err, d.seen = ev, nil, 0
	err := d.object()
	d.ev = nil
	if err != nil {
		return err
	}
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
	return validate(ev, now, true) // the scanner checked UTF-8
}

// object scans the whole value, which must be one object, handing each
// member to field. A field's error is kept in d.err (the first one wins)
// while the scan goes on: a grammar error anywhere comes first.
func (d *JSONDecoder) object() *InvalidError {
	s := &d.s
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		t, ok := s.skip(1)
		if ok && d.end() {
			return invalid("", "malformed JSON: the value is a %s, not an object", t)
		}
		return d.malformed()
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return d.endObject()
	}
	for {
		if !s.expect('"', "want a string key") {
			return d.malformed()
		}
		start := s.i
		escaped, ok := s.str()
		if !ok {
			return d.malformed()
		}
		key := s.b[start : s.i-1]
		if escaped {
			key = unescape(key) // in place: the key is not kept
		}
		if !s.expect(':', "want ':' after an object key") || !d.field(key) {
			return d.malformed()
		}
		more, ok := s.next('}')
		if !ok {
			return d.malformed()
		}
		if !more {
			return d.endObject()
		}
	}
}

func (d *JSONDecoder) endObject() *InvalidError {
	if !d.end() {
		return d.malformed()
	}
	return nil
}

// end reports whether only whitespace follows the top-level value.
func (d *JSONDecoder) end() bool {
	d.s.ws()
	if d.s.i < len(d.s.b) {
		return d.s.fail("data after the top-level value")
	}
	return true
}

// malformed is the reason for a value the scanner refused. A value that is
// not UTF-8 is reported as such wherever the grammar broke, as when UTF-8
// was checked in a pass of its own.
func (d *JSONDecoder) malformed() *InvalidError {
	if !utf8.Valid(d.buf) {
		return invalid("", "malformed JSON: not valid UTF-8")
	}
	return invalid("", "malformed JSON: %s at offset %d", d.s.msg, d.s.i)
}

// The members of the contract; fOther is every other name.
const (
	fOther = iota
	fEventID
	fSessionID
	fKind
	fTS
	fSpaceID
	fUserID
	fRole
	fClient
	fAppVersion
	fRegion
	fCountry
	fJoinMS
	fAttempt
	fReason
	fPhase
	fCode
	fHTTPStatus
)

// fieldOf switches on the length first: comparing with a constant of known
// length compiles to a few word compares, where a switch on strings calls
// the runtime's comparison.
func fieldOf(key []byte) int {
	switch len(key) {
	case 2:
		if string(key) == "ts" {
			return fTS
		}
	case 4:
		switch {
		case string(key) == "kind":
			return fKind
		case string(key) == "role":
			return fRole
		case string(key) == "code":
			return fCode
		}
	case 5:
		if string(key) == "phase" {
			return fPhase
		}
	case 6:
		switch {
		case string(key) == "client":
			return fClient
		case string(key) == "region":
			return fRegion
		case string(key) == "reason":
			return fReason
		}
	case 7:
		switch {
		case string(key) == "user_id":
			return fUserID
		case string(key) == "country":
			return fCountry
		case string(key) == "join_ms":
			return fJoinMS
		case string(key) == "attempt":
			return fAttempt
		}
	case 8:
		switch {
		case string(key) == "event_id":
			return fEventID
		case string(key) == "space_id":
			return fSpaceID
		}
	case 10:
		if string(key) == "session_id" {
			return fSessionID
		}
	case 11:
		switch {
		case string(key) == "app_version":
			return fAppVersion
		case string(key) == "http_status":
			return fHTTPStatus
		}
	}
	return fOther
}

// value scans the value of a member of the top-level object. A string comes
// back decoded, a number as written; a container is skipped.
func (d *JSONDecoder) value() (t jtype, v []byte, ok bool) {
	s := &d.s
	s.ws()
	if s.i >= len(s.b) {
		return 0, nil, s.fail("unexpected end of input")
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '"':
		s.i++
		escaped, ok := s.str()
		if !ok {
			return 0, nil, false
		}
		v = s.b[start+1 : s.i-1]
		if escaped {
			v = unescape(v)
		}
		return jString, v, true
	case c == '-' || c >= '0' && c <= '9':
		ok := s.number()
		return jNumber, s.b[start:s.i], ok
	}
	t, ok = s.skip(2)
	return t, nil, ok
}

// field decodes one member of the top-level object, as the fastjson decoder
// did: members are taken in order, a later copy of a name overwrites an
// earlier one, and after the first error the members are only scanned.
func (d *JSONDecoder) field(key []byte) bool {
	f := fieldOf(key)
	if f == fOther || d.err != nil {
		// Unknown fields are ignored (forward compatibility).
		_, ok := d.s.skip(2)
		return ok
	}
	t, v, ok := d.value()
	if !ok {
		return false
	}
	e := d.ev
	switch f {
	case fEventID:
		d.seen |= seenEventID
		e.EventID = d.uuid("event_id", t, v)
	case fSessionID:
		d.seen |= seenSession
		e.SessionID = d.uuid("session_id", t, v)
	case fKind:
		d.seen |= seenKind
		s := d.str("kind", t, v)
		if e.Kind = Kind(lookup(kindNames[:], s)); e.Kind == 0 && d.err == nil {
			d.fail("kind", "unknown kind %q (want join, leave or error)", s)
		}
	case fTS:
		d.seen |= seenTS
		e.TS = d.ts(t, v)
	case fSpaceID:
		d.seen |= seenSpace
		e.SpaceID = str(d.str("space_id", t, v))
	case fUserID:
		d.seen |= seenUser
		e.UserID = str(d.str("user_id", t, v))
	case fRole:
		if t != jNull {
			s := d.str("role", t, v)
			if e.Role = Role(lookup(roleNames[:], s)); e.Role == 0 && d.err == nil {
				d.fail("role", "unknown role %q (want listener, speaker, host or cohost)", s)
			}
		}
	case fClient:
		e.Client = d.optStr("client", t, v)
	case fAppVersion:
		e.AppVersion = d.optStr("app_version", t, v)
	case fRegion:
		e.Region = d.optStr("region", t, v)
	case fCountry:
		e.Country = d.optStr("country", t, v)
	case fJoinMS:
		if t != jNull {
			e.JoinMS = d.int("join_ms", t, v, 0, 1<<62)
		}
	case fAttempt:
		if t != jNull {
			e.Attempt = uint16(d.int("attempt", t, v, 0, MaxAttempt))
		}
	case fReason:
		if t != jNull {
			s := d.str("reason", t, v)
			if e.Reason = Reason(lookup(reasonNames[:], s)); e.Reason == 0 && d.err == nil {
				d.fail("reason", "unknown reason %q (want user, ended, kicked, network or error)", s)
			}
		}
	case fPhase:
		if t != jNull {
			d.seen |= seenPhase
			s := d.str("phase", t, v)
			if e.Phase = Phase(lookup(phaseNames[:], s)); e.Phase == 0 && d.err == nil {
				d.fail("phase", "unknown phase %q (want join or session)", s)
			}
		}
	case fCode:
		if t != jNull {
			d.seen |= seenCode
			e.Code = str(d.str("code", t, v))
		}
	case fHTTPStatus:
		if t != jNull {
			e.HTTPStatus = uint16(d.int("http_status", t, v, 100, 599))
		}
	}
	return true
}

func (d *JSONDecoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = invalid(field, format, args...)
	}
}

// str returns the bytes of a JSON string; they alias the decoder's buffer.
// It returns nil for any other type.
func (d *JSONDecoder) str(field string, t jtype, v []byte) []byte {
	if t != jString {
		d.fail(field, "want a string, got %s", t)
		return nil
	}
	return v
}

func (d *JSONDecoder) optStr(field string, t jtype, v []byte) string {
	if t == jNull {
		return ""
	}
	return str(d.str(field, t, v))
}

func (d *JSONDecoder) int(field string, t jtype, v []byte, lo, hi int64) int64 {
	if t != jNumber {
		d.fail(field, "want an integer, got %s", t)
		return 0
	}
	n, ok := parseInt(v)
	if !ok {
		d.fail(field, "want an integer, got %s", v)
		return 0
	}
	if n < lo || n > hi {
		d.fail(field, "%d is outside %d-%d", n, lo, hi)
		return 0
	}
	return n
}

func (d *JSONDecoder) uuid(field string, t jtype, v []byte) uuid.UUID {
	b := d.str(field, t, v)
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
func (d *JSONDecoder) ts(t jtype, v []byte) int64 {
	switch t {
	case jNumber:
		n, ok := parseInt(v)
		if !ok {
			d.fail("ts", "want integer milliseconds or an RFC 3339 string, got %s", v)
		}
		return n
	case jString:
		tm, err := time.Parse(time.RFC3339Nano, str(v))
		if err != nil {
			d.fail("ts", "%q is not RFC 3339", v)
			return 0
		}
		return tm.UnixMilli()
	default:
		d.fail("ts", "want integer milliseconds or an RFC 3339 string, got %s", t)
		return 0
	}
}

// parseInt parses a scanned JSON number that must be an integer in int64
// (no fraction, no exponent), like strconv.ParseInt(v, 10, 64).
func parseInt(v []byte) (int64, bool) {
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	var u uint64
	if len(v) <= 18 { // no overflow
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false
			}
			u = u*10 + uint64(c-'0')
		}
		if neg {
			return -int64(u), true
		}
		return int64(u), true
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (1<<64-1)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u < uint64(c-'0') {
			return 0, false
		}
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
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

// parseUUID accepts the canonical 36-character form, any version, any case,
// as uuid.ParseBytes does for 36 bytes. It decodes 8 hex digits at a time.
func parseUUID(b []byte) (uuid.UUID, error) {
	var id uuid.UUID
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return uuid.Nil, ErrInvalid
	}
	le := binary.LittleEndian
	a, ok1 := hex8(le.Uint64(b[0:]))
	c, ok2 := hex8(uint64(le.Uint32(b[9:])) | uint64(le.Uint32(b[14:]))<<32)
	e, ok3 := hex8(uint64(le.Uint32(b[19:])) | uint64(le.Uint32(b[24:]))<<32)
	f, ok4 := hex8(le.Uint64(b[28:]))
	if !(ok1 && ok2 && ok3 && ok4) {
		return uuid.Nil, ErrInvalid
	}
	le.PutUint32(id[0:], a)
	le.PutUint32(id[4:], c)
	le.PutUint32(id[8:], e)
	le.PutUint32(id[12:], f)
	return id, nil
}

// hex8 decodes the 8 hex digits of w, the first in the low byte, into 4
// bytes, the first in the low byte. It reports whether all 8 were hex digits.
func hex8(w uint64) (uint32, bool) {
	if w&msb != 0 {
		return 0, false
	}
	// With every byte below 0x80, adding to a byte never carries into the
	// next: (b + 0x80 - lo) has its high bit set when b >= lo.
	in := func(w uint64, lo, hi byte) uint64 {
		return (w + lsb*uint64(0x80-lo)) & ^(w + lsb*uint64(0x80-hi-1)) & msb
	}
	digit := in(w, '0', '9')
	lower := w | lsb*0x20 // 'A'-'F' and only they become 'a'-'f'
	letter := in(lower, 'a', 'f')
	if digit|letter != msb {
		return 0, false
	}
	// A digit's value is its low nibble, a letter's its low nibble + 9.
	n := w&(lsb*0x0f) + (letter>>7)*9
	// Each 16-bit lane to one byte (first digit high), then the lanes together.
	n = (n&0x00ff00ff00ff00ff)<<4 | (n>>8)&0x00ff00ff00ff00ff
	n = (n | n>>8) & 0x0000ffff0000ffff
	n = (n | n>>16) & 0xffffffff
	return uint32(n), true
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
