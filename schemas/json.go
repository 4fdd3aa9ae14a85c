package schemas

import (
	"time"
	"unicode/utf8"
	"unsafe"
)

// JSONDecoder decodes JSON event values in one pass over the bytes: a strict
// scanner (jsonscan.go) checks the JSON grammar and UTF-8 as it reads the
// top-level object, decodes the fields of the contract as it meets them and
// skips, still checking, every other value (the members of the contract are
// in jsonfields.go). It accepts and rejects what fastjson's validator and
// parser did, but for a raw control character in a string (see scanner),
// and decodes the same events (decode_diff_test.go compares the two); a
// valid event allocates nothing.
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

func missing(seen uint32) error {
	names := [...]string{"event_id", "kind", "ts", "space_id", "session_id", "user_id"}
	for i, n := range names {
		if seen&(1<<i) == 0 {
			return invalid(n, "missing (required)")
		}
	}
	return nil
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
