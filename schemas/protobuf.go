package schemas

import (
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/spacepulse/spacepulse/schemas/pb"
)

// ProtoDecoder decodes Protobuf event values (schemas/pb/event.proto). It
// reuses its message; it is not safe for concurrent use.
type ProtoDecoder struct {
	m pb.Event
}

// Decode parses value into ev and validates it like JSONDecoder.Decode. In
// proto3 an empty string and a zero ts are indistinguishable from absent, so
// they count as missing.
func (d *ProtoDecoder) Decode(value []byte, ev *Event, now time.Time) error {
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
	if ev.EventID, err = parseUUID([]byte(m.EventId)); err != nil {
		return invalid("event_id", "%q is not a UUID", m.EventId)
	}
	if ev.SessionID, err = parseUUID([]byte(m.SessionId)); err != nil {
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
