package scenario

import (
	"strconv"
	"unsafe"

	"github.com/spacepulse/spacepulse/schemas"
)

// fill turns record r into ev: a fresh event_id from the seeded generator,
// the session_id derived from the session number, a user_id cut from the
// arena.
func (g *Generator) fill(ev *schemas.Event, r *rec) {
	client := r.attrs & 0xf
	country := r.attrs >> 4 & 0x3f
	if cap(g.arena)-len(g.arena) < 20 {
		g.arena = make([]byte, 0, 64<<10)
	}
	n := len(g.arena)
	g.arena = strconv.AppendUint(g.arena, userID(r.user), 10)
	user := unsafe.String(&g.arena[n], len(g.arena)-n)
	*ev = schemas.Event{
		EventID:    g.ids.uuid4(),
		Kind:       schemas.Kind(r.kind),
		TS:         g.startMS + r.ts,
		SpaceID:    g.rooms[r.room].space,
		SessionID:  sessionUUID(g.opt.Seed, r.seq),
		UserID:     user,
		Role:       schemas.RoleListener,
		Client:     g.clients[client],
		AppVersion: g.appVersion[client],
		Region:     g.regions[country],
		Country:    g.countries[country],
		JoinMS:     -1,
		Attempt:    uint16(r.attempt),
	}
	switch r.kind {
	case recJoin:
		ev.JoinMS = int64(r.aux)
	case recLeave:
		ev.Reason = schemas.Reason(r.reason)
		ev.Attempt = 0
	case recError:
		ev.Phase = schemas.PhaseJoin
		ev.Code = g.codes[r.code]
		ev.HTTPStatus = g.httpStatus[r.code]
	}
}

// userID maps a user number to a 10-digit id (a bijection of uint32).
func userID(u uint32) uint64 { return 1_000_000_000 + uint64(u*2654435761) }

func httpStatus(code string) uint16 {
	switch code {
	case "details_not_available", "space_not_available":
		return 503
	case "timeout":
		return 504
	case "rate_limited":
		return 429
	case "space_ended":
		return 410
	case "auth":
		return 401
	case "geo_blocked":
		return 451
	}
	return 500
}

func appVersion(client string) string {
	switch client {
	case "ios":
		return "10.53.0"
	case "android":
		return "10.53.0-release.0"
	case "web":
		return "web-2024.08"
	}
	return "1.0.0"
}

func region(country string) string {
	switch country {
	case "US", "CA":
		return "us-east-1"
	case "BR", "MX", "AR":
		return "sa-east-1"
	case "JP", "KR", "PH", "AU":
		return "ap-northeast-1"
	case "IN":
		return "ap-south-1"
	}
	return "eu-west-1"
}
