package schemas

import (
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ProtoDecoder decodes Protobuf event values (schemas/pb/event.proto) with
// protowire, field by field, without reflection and without allocating. It
// accepts and rejects what proto.Unmarshal into pb.Event did
// (decode_diff_test.go compares the two): a known field of another wire type
// is an unknown field, unknown fields are skipped but must be well formed, a
// repeated field keeps its last value, and every string field, kept or not,
// must be UTF-8.
//
// The Event it fills aliases the decoder's buffer (a copy of the value) until
// the next Decode; the value itself may be reused as soon as Decode returns.
// A ProtoDecoder is not safe for concurrent use.
type ProtoDecoder struct {
	buf []byte
}

// protoEvent holds the fields of one decoded message; the byte slices alias
// ProtoDecoder.buf.
type protoEvent struct {
	str                         [17][]byte // by field number - 1; only the string fields
	ts                          int64
	joinMS, attempt, httpStatus int64
	has                         uint32 // bits 1<<num of the optional int64 fields present
}

// The field numbers of pb/event.proto.
const (
	pbEventID    = 1
	pbKind       = 2
	pbTS         = 3
	pbSpaceID    = 4
	pbSessionID  = 5
	pbUserID     = 6
	pbRole       = 7
	pbClient     = 8
	pbAppVersion = 9
	pbRegion     = 10
	pbCountry    = 11
	pbJoinMS     = 12
	pbAttempt    = 13
	pbReason     = 14
	pbPhase      = 15
	pbCode       = 16
	pbHTTPStatus = 17
)

// The string and the int64 fields, as bits 1<<number.
const (
	pbInts    = 1<<pbTS | 1<<pbJoinMS | 1<<pbAttempt | 1<<pbHTTPStatus
	pbStrings = 1<<(pbHTTPStatus+1) - 2 - pbInts
)

// pbNames are the field names by number, for the reasons.
var pbNames = [...]string{"", "event_id", "kind", "ts", "space_id", "session_id", "user_id", "role", "client",
	"app_version", "region", "country", "join_ms", "attempt", "reason", "phase", "code", "http_status"}

// Decode parses value into ev and validates it like JSONDecoder.Decode. In
// proto3 an empty string and a zero ts are indistinguishable from absent, so
// they count as missing.
func (d *ProtoDecoder) Decode(value []byte, ev *Event, now time.Time) error {
	if len(value) > MaxValueBytes {
		return invalid("", "value of %d bytes is over the 64 KiB limit", len(value))
	}
	d.buf = append(d.buf[:0], value...)
	var m protoEvent
	if err := m.unmarshal(d.buf); err != nil {
		return err
	}
	ev.Reset()
	for _, num := range [...]int{pbEventID, pbKind, pbSpaceID, pbSessionID, pbUserID} {
		if len(m.str[num-1]) == 0 {
			return invalid(pbNames[num], "missing (required)")
		}
	}
	if m.ts == 0 {
		return invalid("ts", "missing (required)")
	}
	var err error
	if ev.EventID, err = parseUUID(m.str[pbEventID-1]); err != nil {
		return invalid("event_id", "%q is not a UUID", m.str[pbEventID-1])
	}
	if ev.SessionID, err = parseUUID(m.str[pbSessionID-1]); err != nil {
		return invalid("session_id", "%q is not a UUID", m.str[pbSessionID-1])
	}
	if ev.Kind = Kind(lookup(kindNames[:], m.str[pbKind-1])); ev.Kind == 0 {
		return invalid("kind", "unknown kind %q (want join, leave or error)", m.str[pbKind-1])
	}
	if s := m.str[pbRole-1]; len(s) != 0 {
		if ev.Role = Role(lookup(roleNames[:], s)); ev.Role == 0 {
			return invalid("role", "unknown role %q (want listener, speaker, host or cohost)", s)
		}
	}
	if s := m.str[pbReason-1]; len(s) != 0 {
		if ev.Reason = Reason(lookup(reasonNames[:], s)); ev.Reason == 0 {
			return invalid("reason", "unknown reason %q (want user, ended, kicked, network or error)", s)
		}
	}
	if s := m.str[pbPhase-1]; len(s) != 0 {
		if ev.Phase = Phase(lookup(phaseNames[:], s)); ev.Phase == 0 {
			return invalid("phase", "unknown phase %q (want join or session)", s)
		}
	}
	ev.TS = m.ts
	ev.SpaceID, ev.UserID = str(m.str[pbSpaceID-1]), str(m.str[pbUserID-1])
	ev.Client, ev.AppVersion = str(m.str[pbClient-1]), str(m.str[pbAppVersion-1])
	ev.Region, ev.Country, ev.Code = str(m.str[pbRegion-1]), str(m.str[pbCountry-1]), str(m.str[pbCode-1])
	if m.has&(1<<pbJoinMS) != 0 {
		if m.joinMS < 0 {
			return invalid("join_ms", "%d is negative", m.joinMS)
		}
		ev.JoinMS = m.joinMS
	}
	if m.has&(1<<pbAttempt) != 0 {
		if m.attempt < 0 || m.attempt > MaxAttempt {
			return invalid("attempt", "%d is outside 0-%d", m.attempt, MaxAttempt)
		}
		ev.Attempt = uint16(m.attempt)
	}
	if m.has&(1<<pbHTTPStatus) != 0 {
		if m.httpStatus < 100 || m.httpStatus > 599 {
			return invalid("http_status", "%d is outside 100-599", m.httpStatus)
		}
		ev.HTTPStatus = uint16(m.httpStatus)
	}
	return validate(ev, now, true) // unmarshal checked UTF-8
}

// unmarshal reads the fields of b into m as the generated code's
// unmarshaler did (google.golang.org/protobuf/internal/impl, decode.go).
func (m *protoEvent) unmarshal(b []byte) *InvalidError {
	for off := 0; off < len(b); {
		tag, n := protowire.ConsumeVarint(b[off:])
		if n < 0 {
			return malformedProto(off)
		}
		if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
			return malformedProto(off)
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if typ == protowire.EndGroupType {
			return malformedProto(off) // no group is open at the top level
		}
		off += n
		switch {
		case typ == protowire.BytesType && num < 32 && pbStrings&(1<<num) != 0:
			v, n := protowire.ConsumeBytes(b[off:])
			if n < 0 {
				return malformedProto(off)
			}
			if !utf8.Valid(v) {
				return invalid("", "malformed Protobuf: string field %s is not valid UTF-8", pbNames[num])
			}
			m.str[num-1] = v
			off += n
		case typ == protowire.VarintType && num < 32 && pbInts&(1<<num) != 0:
			v, n := protowire.ConsumeVarint(b[off:])
			if n < 0 {
				return malformedProto(off)
			}
			switch num {
			case pbTS:
				m.ts = int64(v)
			case pbJoinMS:
				m.joinMS = int64(v)
			case pbAttempt:
				m.attempt = int64(v)
			default:
				m.httpStatus = int64(v)
			}
			m.has |= 1 << num
			off += n
		default:
			// Unknown fields are skipped (forward compatibility), and so is
			// a known field of another wire type, as the generated code did.
			n := protowire.ConsumeFieldValue(num, typ, b[off:])
			if n < 0 {
				return malformedProto(off)
			}
			off += n
		}
	}
	return nil
}

func malformedProto(off int) *InvalidError {
	return invalid("", "malformed Protobuf: cannot parse invalid wire-format data at offset %d", off)
}
