package schemas

import (
	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/proto"

	"github.com/spacepulse/spacepulse/schemas/pb"
)

// Content types of the Kafka `content-type` header.
const (
	ContentTypeJSON     = "application/json"
	ContentTypeProtobuf = "application/x-protobuf"
)

// JSONEncoder writes events as JSON values. It reuses its arena; it is not
// safe for concurrent use.
type JSONEncoder struct {
	a fastjson.Arena
}

// AppendJSON appends the JSON form of e to dst. Absent optional fields are
// left out; ts is written as integer milliseconds.
func (enc *JSONEncoder) AppendJSON(dst []byte, e *Event) []byte {
	a := &enc.a
	a.Reset()
	o := a.NewObject()
	o.Set("event_id", a.NewString(e.EventID.String()))
	o.Set("kind", a.NewString(e.Kind.String()))
	o.Set("ts", a.NewNumberInt(int(e.TS)))
	o.Set("space_id", a.NewString(e.SpaceID))
	o.Set("session_id", a.NewString(e.SessionID.String()))
	o.Set("user_id", a.NewString(e.UserID))
	if e.Role != RoleListener && e.Role != 0 {
		o.Set("role", a.NewString(e.Role.String()))
	}
	setStr := func(k, v string) {
		if v != "" {
			o.Set(k, a.NewString(v))
		}
	}
	setStr("client", e.Client)
	setStr("app_version", e.AppVersion)
	setStr("region", e.Region)
	setStr("country", e.Country)
	if e.JoinMS >= 0 && e.Kind == KindJoin {
		o.Set("join_ms", a.NewNumberInt(int(e.JoinMS)))
	}
	if e.Attempt != 0 {
		o.Set("attempt", a.NewNumberInt(int(e.Attempt)))
	}
	if e.Reason != ReasonNone {
		o.Set("reason", a.NewString(e.Reason.String()))
	}
	if e.Phase != PhaseNone {
		o.Set("phase", a.NewString(e.Phase.String()))
	}
	setStr("code", e.Code)
	if e.HTTPStatus != 0 {
		o.Set("http_status", a.NewNumberInt(int(e.HTTPStatus)))
	}
	return o.MarshalTo(dst)
}

// ToProto converts e to its Protobuf message.
func ToProto(e *Event) *pb.Event {
	m := &pb.Event{
		EventId:    e.EventID.String(),
		Kind:       e.Kind.String(),
		Ts:         e.TS,
		SpaceId:    e.SpaceID,
		SessionId:  e.SessionID.String(),
		UserId:     e.UserID,
		Client:     e.Client,
		AppVersion: e.AppVersion,
		Region:     e.Region,
		Country:    e.Country,
		Code:       e.Code,
	}
	if e.Role != RoleListener && e.Role != 0 {
		m.Role = e.Role.String()
	}
	if e.JoinMS >= 0 && e.Kind == KindJoin {
		m.JoinMs = proto.Int64(e.JoinMS)
	}
	if e.Attempt != 0 {
		m.Attempt = proto.Int64(int64(e.Attempt))
	}
	if e.Reason != ReasonNone {
		m.Reason = e.Reason.String()
	}
	if e.Phase != PhaseNone {
		m.Phase = e.Phase.String()
	}
	if e.HTTPStatus != 0 {
		m.HttpStatus = proto.Int64(int64(e.HTTPStatus))
	}
	return m
}

// MarshalProto returns the Protobuf encoding of e.
func MarshalProto(e *Event) ([]byte, error) {
	return proto.Marshal(ToProto(e))
}
