package schemas

import (
	"time"

	"github.com/google/uuid"
)

// The members of the top-level object that the contract names, and how
// each is decoded: the rules of the fastjson decoder, kept as they were.

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
