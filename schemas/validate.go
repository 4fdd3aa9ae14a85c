package schemas

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ErrInvalid is matched (errors.Is) by every error that makes an event
// invalid: such an event goes to the dead-letter topic, it never stops the
// pipeline.
var ErrInvalid = errors.New("invalid event")

// InvalidError says why an event is invalid. Field is the JSON name of the
// offending field, or "" when the value as a whole is at fault. Error()
// returns one line, used as the dead-letter `error` header.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true for every InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks e against the contract: required fields, ranges, string
// limits, and which fields go with which kind. now is the receiver's clock: a
// ts more than MaxFuture after it is invalid. It returns nil or an
// *InvalidError.
func Validate(e *Event, now time.Time) error {
	return validate(e, now, false)
}

// validate is Validate; utf8Checked says the strings of e are known to be
// UTF-8 (the decoders check them as they read them), so they are not
// checked again.
func validate(e *Event, now time.Time, utf8Checked bool) error {
	if e.EventID == uuid.Nil {
		return invalid("event_id", "missing (the nil UUID is not an event id)")
	}
	if e.SessionID == uuid.Nil {
		return invalid("session_id", "missing (the nil UUID is not a session id)")
	}
	if e.Kind < KindJoin || e.Kind > KindError {
		return invalid("kind", "missing or unknown")
	}
	if err := validateTS(e.TS, now); err != nil {
		return err
	}
	if e.Role < RoleListener || e.Role > RoleCohost {
		return invalid("role", "unknown role %d", e.Role)
	}
	if err := checkString("space_id", e.SpaceID, 1, MaxSpaceID, utf8Checked); err != nil {
		return err
	}
	if err := checkString("user_id", e.UserID, 1, MaxUserID, utf8Checked); err != nil {
		return err
	}
	if err := checkString("client", e.Client, 0, MaxShort, utf8Checked); err != nil {
		return err
	}
	if err := checkString("app_version", e.AppVersion, 0, MaxShort, utf8Checked); err != nil {
		return err
	}
	if err := checkString("region", e.Region, 0, MaxShort, utf8Checked); err != nil {
		return err
	}
	if e.Country != "" && !isCountry(e.Country) {
		return invalid("country", "%q is not an ISO 3166-1 alpha-2 code (two upper-case letters)", e.Country)
	}
	if e.HTTPStatus != 0 && (e.HTTPStatus < 100 || e.HTTPStatus > 599) {
		return invalid("http_status", "%d is outside 100-599", e.HTTPStatus)
	}
	if e.JoinMS < -1 {
		return invalid("join_ms", "%d is negative", e.JoinMS)
	}
	if e.JoinMS >= 0 && e.Kind != KindJoin {
		return invalid("join_ms", "only a join carries join_ms, not a %s", e.Kind)
	}
	if e.Reason < ReasonNone || e.Reason > ReasonError {
		return invalid("reason", "unknown reason %d", e.Reason)
	}
	if e.Reason != ReasonNone && e.Kind != KindLeave {
		return invalid("reason", "only a leave carries a reason, not a %s", e.Kind)
	}
	if e.Kind == KindError {
		if e.Phase != PhaseJoin && e.Phase != PhaseSession {
			return invalid("phase", "required for an error: \"join\" or \"session\"")
		}
		if e.Code == "" {
			return invalid("code", "required for an error")
		}
		if err := checkCode(e.Code); err != nil {
			return err
		}
	}
	return nil
}

func validateTS(ms int64, now time.Time) error {
	if ms < MinTime.UnixMilli() {
		return invalid("ts", "%d is before 2006-01-01", ms)
	}
	if ms > now.Add(MaxFuture).UnixMilli() {
		return invalid("ts", "%d is more than 24h in the future", ms)
	}
	return nil
}

func checkString(field, s string, minLen, maxLen int, utf8Checked bool) error {
	if len(s) < minLen {
		return invalid(field, "missing or empty")
	}
	if len(s) > maxLen {
		return invalid(field, "%d bytes, over the limit of %d", len(s), maxLen)
	}
	if !utf8Checked && !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	return nil
}

// checkCode accepts snake_case: a lower-case letter, then lower-case
// letters, digits and underscores, at most MaxCode bytes.
func checkCode(code string) error {
	if len(code) > MaxCode {
		return invalid("code", "%d bytes, over the limit of %d", len(code), MaxCode)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_')
		if !ok {
			return invalid("code", "%q is not snake_case", code)
		}
	}
	return nil
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
