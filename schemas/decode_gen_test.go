package schemas

// Generated events for the differential tests of decode_diff_test.go.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

var genStrings = []string{"", "x", "join", "leave", "error", "session", "listener", "speaker", "host", "cohost", "user", "ended", "kicked", "network", "US", "us", "ios", "10.53.0", "us-east-1", "timeout", "space_ended", "Not-Snake", "1YqJDqWLyEMGV", "1587234098", "café 🎉", "a\"b\\c\n", "\u2028", "2024-08-13T00:42:17.123Z", "2024-08-12T20:42:17.123-04:00", "2024-08-13 00:42:17Z", "6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31", "B3E1F0D2-8C4A-4B7E-A1D9-5F6E7C8B9A0D", "00000000-0000-0000-0000-000000000000", "6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a3g", strings.Repeat("x", 32), strings.Repeat("x", 33), strings.Repeat("y", 64), strings.Repeat("y", 65), strings.Repeat("z", 129)}

var genNumbers = []string{"0", "-0", "1", "-1", "2", "100", "503", "599", "600", "999", "65535", "65536", "1723509737123", "1136073600000", "1136073599999", "1823509737123", "1.5", "1e3", "1723509737123.0", "9223372036854775807", "9223372036854775808", "-9223372036854775808"}

var genNames = []string{"event_id", "kind", "ts", "space_id", "session_id", "user_id", "role", "client", "app_version", "region", "country", "join_ms", "attempt", "reason", "phase", "code", "http_status", "extra", "Kind", "event_id ", ""}

// genJSON writes an event: mostly the fields a valid one needs, with the
// right types, in any order, with now and then a wrong type, an unknown
// field, a duplicate, escapes or whitespace.
func genJSON(r *rand.Rand) []byte {
	var b []byte
	ws := func() {
		if r.IntN(8) == 0 {
			b = append(b, " \t\r\n"[r.IntN(4)])
		}
	}
	str := func(s string) {
		b = append(b, '"')
		for _, c := range s {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', byte(c))
			case c < 0x20:
				b = fmt.Appendf(b, `\u%04x`, c)
			case r.IntN(30) == 0 && c < 0x10000:
				b = fmt.Appendf(b, `\u%04X`, c)
			case r.IntN(40) == 0 && c >= 0x10000:
				c1, c2 := rune(0xd800+((c-0x10000)>>10)), rune(0xdc00+((c-0x10000)&0x3ff))
				b = fmt.Appendf(b, `\u%04x\u%04x`, c1, c2)
			default:
				b = utf8.AppendRune(b, c)
			}
		}
		b = append(b, '"')
	}
	val := func(name string) {
		switch k := r.IntN(20); {
		case k == 0:
			b = append(b, []string{"null", "true", "false", "{}", "[]", `{"a":[1,{"b":null}]}`, `[1,"x",[]]`}[r.IntN(7)]...)
		case k < 3:
			b = append(b, genNumbers[r.IntN(len(genNumbers))]...)
		case k < 5:
			str(genStrings[r.IntN(len(genStrings))])
		default:
			good := map[string]func(){
				"event_id":    func() { str(randUUID(r)) },
				"session_id":  func() { str(randUUID(r)) },
				"kind":        func() { str(kindNames[1+r.IntN(3)]) },
				"ts":          func() { b = strconv.AppendInt(b, 1723509737123+r.Int64N(1e9)-5e8, 10) },
				"space_id":    func() { str("1YqJDqWLyEMGV") },
				"user_id":     func() { str(strconv.Itoa(r.IntN(1e9))) },
				"role":        func() { str(roleNames[1+r.IntN(4)]) },
				"reason":      func() { str(reasonNames[1+r.IntN(5)]) },
				"phase":       func() { str(phaseNames[1+r.IntN(2)]) },
				"code":        func() { str([]string{"timeout", "space_ended", "details_not_available", "media"}[r.IntN(4)]) },
				"join_ms":     func() { b = strconv.AppendInt(b, r.Int64N(5000), 10) },
				"attempt":     func() { b = strconv.AppendInt(b, r.Int64N(5), 10) },
				"http_status": func() { b = strconv.AppendInt(b, 100+r.Int64N(500), 10) },
				"country":     func() { str("US") },
			}[name]
			if good == nil {
				str(genStrings[r.IntN(len(genStrings))])
			} else {
				good()
			}
		}
	}
	names := []string{"event_id", "kind", "ts", "space_id", "session_id", "user_id"}
	if r.IntN(10) == 0 {
		names = names[:r.IntN(len(names))]
	}
	for _, n := range genNames[6:] {
		if r.IntN(3) == 0 {
			names = append(names, n)
		}
	}
	if r.IntN(5) == 0 {
		names = append(names, genNames[r.IntN(len(genNames))])
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	ws()
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		ws()
		str(n)
		ws()
		b = append(b, ':')
		ws()
		val(n)
		ws()
	}
	b = append(b, '}')
	ws()
	return b
}

func randUUID(r *rand.Rand) string {
	const hex = "0123456789abcdefABCDEF"
	b := make([]byte, 36)
	for i := range b {
		b[i] = hex[r.IntN(len(hex))]
	}
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b)
}

// genProto writes a Protobuf event, now and then with a field of the wrong
// wire type, an unknown field, a group, a repeated field, a string that is
// not UTF-8, or an over-long varint.
func genProto(r *rand.Rand) []byte {
	var e Event
	if err := NewJSONDecoder().Decode(genJSON(r), &e, testNow); err != nil {
		if err := NewJSONDecoder().Decode([]byte(validJSON), &e, testNow); err != nil {
			panic(err)
		}
	}
	m := ToProto(&e)
	switch r.IntN(12) {
	case 0:
		m.EventId = genStrings[r.IntN(len(genStrings))]
	case 1:
		m.Kind = genStrings[r.IntN(len(genStrings))]
	case 2:
		m.Ts = []int64{0, -1, 1000, 1823509737123}[r.IntN(4)]
	case 3:
		m.JoinMs = proto.Int64(r.Int64N(3) - 1)
	case 4:
		m.Attempt = proto.Int64([]int64{-1, 0, 65535, 65536}[r.IntN(4)])
	case 5:
		m.HttpStatus = proto.Int64([]int64{0, 99, 100, 599, 600}[r.IntN(5)])
	case 6:
		m.Role = genStrings[r.IntN(len(genStrings))]
	case 7:
		m.Client = genStrings[r.IntN(len(genStrings))]
	}
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	num := protowire.Number(1 + r.IntN(20))
	switch r.IntN(10) {
	case 0: // a string field again, maybe not UTF-8
		s := []string{"x", "join", "\xff", "US", "6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31"}[r.IntN(5)]
		b = protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	case 1: // a varint, maybe over-long or on a string field
		b = protowire.AppendTag(b, num, protowire.VarintType)
		if r.IntN(2) == 0 {
			b = append(b, 0x85, 0x80, 0x80, 0x00)
		} else {
			b = protowire.AppendVarint(b, uint64(r.Int64N(700)))
		}
	case 2:
		b = protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), 7)
	case 3:
		b = protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), 7)
	case 4: // a group, maybe unclosed or closed by another number
		b = protowire.AppendTag(b, num, protowire.StartGroupType)
		b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 1)
		if r.IntN(3) > 0 {
			end := num
			if r.IntN(3) == 0 {
				end++
			}
			b = protowire.AppendTag(b, end, protowire.EndGroupType)
		}
	case 5:
		b = protowire.AppendTag(b, num, protowire.Type(r.IntN(8)))
	case 6: // field numbers at the edges
		b = protowire.AppendVarint(protowire.AppendTag(b, []protowire.Number{protowire.MaxValidNumber, 1 << 29, 1<<31 - 1}[r.IntN(3)], protowire.VarintType), 1)
	case 7:
		b = append(b, 0x00, 0x01)
	}
	if r.IntN(4) == 0 {
		// Move a field to the end: the order must not matter.
		if _, _, n := protowire.ConsumeField(b); n > 0 {
			b = append(b[n:], b[:n]...)
		}
	}
	return b
}

// mutate changes a few bytes of v: flips, deletions, insertions or a cut.
func mutate(r *rand.Rand, v []byte) []byte {
	v = bytes.Clone(v)
	if len(v) == 0 {
		return v
	}
	for range 1 + r.IntN(3) {
		if len(v) == 0 {
			break
		}
		i := r.IntN(len(v))
		switch r.IntN(5) {
		case 0:
			v[i] ^= byte(1 << r.IntN(8))
		case 1:
			const tokens = `{}[]",:\0123456789-.eEnulltruefalse u`
			v[i] = tokens[r.IntN(len(tokens))]
		case 2:
			v = append(v[:i], v[i+1:]...)
		case 3:
			v = append(v[:i], append([]byte{byte(r.IntN(256))}, v[i:]...)...)
		case 4:
			v = v[:i]
		}
	}
	return v
}
