// Package schemas is the one definition of a spacepulse event: the Go type,
// its validation against the contract in schemas/README.md, its JSON and
// Protobuf codecs and its Arrow schema. Producers, consumers and the Grafana
// plugin meet here; nothing else defines an event.
package schemas

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Kind is what happened: a join, a leave or an error. The zero value is not
// a valid kind.
type Kind int8

// The kinds of the contract (README.md). The numeric values are the ClickHouse Enum8 values.
const (
	KindJoin  Kind = 1
	KindLeave Kind = 2
	KindError Kind = 3
)

// Role of the user in the space; RoleListener is the default.
type Role int8

// The roles of the contract, numbered as in ClickHouse.
const (
	RoleListener Role = 1
	RoleSpeaker  Role = 2
	RoleHost     Role = 3
	RoleCohost   Role = 4
)

// Reason says why a session ended; only leave events carry one. ReasonNone
// means the field was absent.
type Reason int8

// The reasons of the contract, numbered as in ClickHouse.
const (
	ReasonNone    Reason = 0
	ReasonUser    Reason = 1
	ReasonEnded   Reason = 2
	ReasonKicked  Reason = 3
	ReasonNetwork Reason = 4
	ReasonError   Reason = 5
)

// Phase says when an error happened: during a join attempt (the user never
// got in) or during a session. PhaseNone is only valid on join and leave.
type Phase int8

// The phases of the contract, numbered as in ClickHouse.
const (
	PhaseNone    Phase = 0
	PhaseJoin    Phase = 1
	PhaseSession Phase = 2
)

var (
	kindNames   = [...]string{"", "join", "leave", "error"}
	roleNames   = [...]string{"", "listener", "speaker", "host", "cohost"}
	reasonNames = [...]string{"", "user", "ended", "kicked", "network", "error"}
	phaseNames  = [...]string{"", "join", "session"}
)

func (k Kind) String() string   { return enumName(kindNames[:], int8(k)) }
func (r Role) String() string   { return enumName(roleNames[:], int8(r)) }
func (r Reason) String() string { return enumName(reasonNames[:], int8(r)) }
func (p Phase) String() string  { return enumName(phaseNames[:], int8(p)) }

func enumName(names []string, v int8) string {
	if v < 0 || int(v) >= len(names) {
		return "invalid"
	}
	return names[v]
}

// lookup returns the index of s in names (skipping the empty name at 0), or 0.
func lookup(names []string, s []byte) int8 {
	for i := 1; i < len(names); i++ {
		if string(s) == names[i] {
			return int8(i)
		}
	}
	return 0
}

// Limits of the contract.
const (
	// MaxValueBytes is the largest Kafka value accepted; larger values are invalid.
	MaxValueBytes = 64 << 10
	MaxSpaceID    = 64
	MaxUserID     = 128
	MaxShort      = 32 // client, app_version, region
	MaxCode       = 64
	// MaxAttempt is the largest attempt number stored (ClickHouse UInt16).
	MaxAttempt = 65535
	// MaxFuture is how far ahead of the consumer's clock a ts may be.
	MaxFuture = 24 * time.Hour
)

// MinTime is the earliest valid event time (2006-01-01T00:00:00Z).
var MinTime = time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC)

// BusinessCodes are the business error codes: the room or the user, never the
// service. Every other code is technical, and only technical errors page anyone.
// This is the one list: the SQL of sql/ (migrations, views, reconcile) writes the
// same codes literally, and sql/businesscodes_test.go fails when any copy differs.
func BusinessCodes() []string { return slices.Clone(businessCodes) }

var businessCodes = []string{"space_ended", "auth", "geo_blocked"}

// IsBusinessCode reports whether code is a business error (space_ended, auth,
// geo_blocked) rather than a technical one.
func IsBusinessCode(code string) bool {
	for _, c := range businessCodes {
		if code == c {
			return true
		}
	}
	return false
}

// Event is one event of the contract. Optional fields hold their zero value
// when absent: "" for strings, -1 for JoinMS and HTTPStatus 0.
//
// An Event filled by a Decoder may alias the decoder's buffer (its strings
// point into the decoded value); it is valid until the decoder's next call.
// Use Clone to keep it longer.
type Event struct {
	EventID    uuid.UUID
	Kind       Kind
	TS         int64 // milliseconds since the Unix epoch, UTC
	SpaceID    string
	SessionID  uuid.UUID
	UserID     string
	Role       Role // RoleListener when absent
	Client     string
	AppVersion string
	Region     string
	Country    string // ISO 3166-1 alpha-2, upper case
	JoinMS     int64  // -1 when absent; join only
	Attempt    uint16
	Reason     Reason // leave only
	Phase      Phase  // error only
	Code       string // error only, snake_case
	HTTPStatus uint16 // 0 when absent
}

// Reset sets e to an event with every optional field absent.
func (e *Event) Reset() {
	*e = Event{Role: RoleListener, JoinMS: -1}
}

// Time returns the event time as a time.Time in UTC.
func (e *Event) Time() time.Time { return time.UnixMilli(e.TS).UTC() }

// Clone returns a copy of e that owns its strings.
func (e *Event) Clone() Event {
	c := *e
	c.SpaceID = clone(e.SpaceID)
	c.UserID = clone(e.UserID)
	c.Client = clone(e.Client)
	c.AppVersion = clone(e.AppVersion)
	c.Region = clone(e.Region)
	c.Country = clone(e.Country)
	c.Code = clone(e.Code)
	return c
}

func clone(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

// IsTechnicalJoinError reports whether e is a failed join attempt caused by the
// service (phase join, code not a business code): what the join-failure rate
// counts and what pages.
func (e *Event) IsTechnicalJoinError() bool {
	return e.Kind == KindError && e.Phase == PhaseJoin && !IsBusinessCode(e.Code)
}
