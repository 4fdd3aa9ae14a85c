package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The decoders against the ones they replaced (decode_ref_test.go): the same
// values are accepted, to the same Event, and the same are refused, for the
// same field. A reason about a field reads the same; a malformed value is
// malformed for both (the grammar messages were fastjson's and protobuf-go's).

// diff decodes value with the decoder under test and the reference and
// returns what differs, or "".
func diff(value []byte, protobuf bool) string {
	var got, want Event
	var gotErr, wantErr error
	prefix := "malformed JSON"
	if protobuf {
		prefix = "malformed Protobuf"
		var d ProtoDecoder
		var ref refProtoDecoder
		gotErr = d.Decode(value, &got, testNow)
		wantErr = ref.Decode(value, &want, testNow)
	} else {
		gotErr = NewJSONDecoder().Decode(value, &got, testNow)
		wantErr = newRefJSONDecoder().Decode(value, &want, testNow)
	}
	if !protobuf && gotErr != nil && strings.Contains(gotErr.Error(), "control character in a string") &&
		(wantErr == nil || !strings.HasPrefix(wantErr.Error(), prefix) || strings.HasSuffix(wantErr.Error(), "not an object")) &&
		!json.Valid(value) {
		// fastjson's validator checked a string with escapes for control
		// characters only after its last escape; RFC 8259 (and the
		// contract: "checked against the JSON grammar") refuse them
		// anywhere in a string, and so does the scanner.
		return ""
	}
	switch {
	case gotErr == nil && wantErr == nil:
		if got != want {
			return fmt.Sprintf("decoded\n%+v\nwant\n%+v", got, want)
		}
		return ""
	case gotErr == nil || wantErr == nil:
		return fmt.Sprintf("error %v, want %v", gotErr, wantErr)
	}
	var g, w *InvalidError
	if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) {
		return fmt.Sprintf("error %v (want an *InvalidError), reference %v", gotErr, wantErr)
	}
	if strings.ContainsAny(g.Error(), "\r\n") {
		return fmt.Sprintf("reason %q is not one line", g)
	}
	malformed := strings.HasPrefix(w.Reason, prefix)
	switch {
	case g.Field != w.Field:
		return fmt.Sprintf("error %q, want %q (another field)", g, w)
	case malformed != strings.HasPrefix(g.Reason, prefix):
		return fmt.Sprintf("error %q, want %q", g, w)
	case malformed && utf8Reason(w.Reason) != utf8Reason(g.Reason):
		return fmt.Sprintf("error %q, want %q (UTF-8 first)", g, w)
	case malformed && strings.HasSuffix(w.Reason, "not an object") != strings.HasSuffix(g.Reason, "not an object"):
		return fmt.Sprintf("error %q, want %q", g, w)
	case !malformed && g.Reason != w.Reason:
		return fmt.Sprintf("error %q, want %q", g, w)
	}
	return ""
}

// utf8Reason reports whether a malformed value's reason is its UTF-8.
func utf8Reason(reason string) bool {
	return strings.HasSuffix(reason, "not valid UTF-8") || strings.HasSuffix(reason, "contains invalid UTF-8")
}

func checkDiff(t *testing.T, value []byte, protobuf bool) {
	t.Helper()
	if d := diff(value, protobuf); d != "" {
		t.Fatalf("protobuf=%v value %q:\n%s", protobuf, value, d)
	}
}

// seeds returns the values of testdata/fuzz/FuzzDecode and the seeds of
// FuzzDecode.
func seeds(t testing.TB) (values [][]byte, protobuf []bool) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a corpus file of ([]byte, bool)", f)
		}
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		values = append(values, []byte(v))
		protobuf = append(protobuf, lines[2] == "bool(true)")
	}
	for _, s := range []string{validJSON, `{"kind":"join"}`, `{"event_id":"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31","ts":"2024-08-13T00:42:17Z"}`} {
		values = append(values, []byte(s))
		protobuf = append(protobuf, false)
	}
	values = append(values, []byte{0x0a, 0x03, 'a', 'b', 'c'})
	protobuf = append(protobuf, true)
	return values, protobuf
}

func TestDecodeDiffSeeds(t *testing.T) {
	values, protobuf := seeds(t)
	for i, v := range values {
		checkDiff(t, v, protobuf[i])
		checkDiff(t, v, !protobuf[i])
	}
}

// TestDecodeDiffJSONCases: the corners of the grammar and of the fields.
func TestDecodeDiffJSONCases(t *testing.T) {
	base := `"event_id":"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31","space_id":"s","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d","user_id":"u","ts":1723509737123`
	f := func(body string) {
		t.Helper()
		checkDiff(t, []byte(body), false)
	}
	ev := func(extra string) {
		t.Helper()
		f("{" + base + `,"kind":"join"` + extra + "}")
		f("{" + base + `,"kind":"leave"` + extra + "}")
		f("{" + base + `,"kind":"error","phase":"join","code":"timeout"` + extra + "}")
	}
	f(validJSON)
	f(" \t\r\n" + validJSON + " \n")
	f("\f" + validJSON)
	f(validJSON + "\x00")
	for _, v := range []string{``, ` `, `{`, `}`, `{}`, `[]`, `[1,2]`, `"x"`, `1`, `-`, `null`, `true`, `nul`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1}}`, `{"a":1} {}`, `[1,]`, `[,1]`, `{"a" 1}`, `{'a':1}`, `{"a":1 "b":2}`} {
		f(v)
	}
	for _, v := range []string{`0`, `-0`, `01`, `-01`, `1.`, `.5`, `1.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-`, `--1`, `+1`, `0x10`, `1723509737123.0`, `17235097371230000000000`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`, `NaN`, `nan`, `Infinity`, `1_000`} {
		f(`{` + base + `,"kind":"join","ts":` + v + `}`)
		f(`{` + base + `,"kind":"join","join_ms":` + v + `}`)
		f(`{` + base + `,"kind":"join","x":` + v + `}`)
		f(`{` + base + `,"kind":"join","x":[` + v + `]}`)
		f(v)
	}
	for _, v := range []string{`"\u0041"`, `"\u00e9"`, `"\u00E9"`, `"\ud83c\udf89"`, `"\ud83c"`, `"\udf89"`, `"\ud83cx"`, `"\ud83c\u0041"`, `"\ud83c\ud83c"`, `"\udf89\ud83c"`, `"\ud83c\n"`, `"\ud83c\\u0041"`, `"a\ud83c"`, `"\u0000"`, `"\u001f"`, `"\x41"`, `"\'"`, `"\u12"`, `"\u12G4"`, `"\"\\\/\b\f\n\r\t"`, "\"\x01\"", "\"\x01\\n\"", "\"\x1f\"", "\"\x7f\"", "\"\t\"", "\"caf\xc3\xa9\"", "\"\xc3\"", "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xc0\xaf\"", `"\`, `"abc`, `"\u`, `"\u00`} {
		ev(`,"user_id":` + v)
		ev(`,"client":` + v)
		ev(`,"kind":` + v)
		ev(`,"x":` + v)
		ev(`,` + v + `:1`)
		f(v)
	}
	for _, k := range []string{`"\u006bind":"leave"`, `"k\u0069nd":"bogus"`, `"\u0063lient":"web"`, `"cl\ient":1`, "\"cli\x00ent\":1", `"space_id\u0000":"x"`} {
		ev(`,` + k)
	}
	// Each field with each type, null, and twice.
	fields := []string{"event_id", "session_id", "kind", "ts", "space_id", "user_id", "role", "client", "app_version", "region", "country", "join_ms", "attempt", "reason", "phase", "code", "http_status"}
	values := []string{`null`, `true`, `false`, `0`, `-1`, `1.5`, `2`, `503`, `65535`, `65536`, `999`, `""`, `"x"`, `"join"`, `"leave"`, `"error"`, `"session"`, `"host"`, `"ended"`, `"US"`, `"us"`, `"timeout"`, `"Not-Snake"`, `"2024-08-13T00:42:17.123Z"`, `"2024-08-13T00:42:17+02:00"`, `"6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31"`, `"00000000-0000-0000-0000-000000000000"`, `"6f1c0a4e3a8b4f7e9d2a0c5e7b1d9a31"`, `"{6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a3}"`, `{}`, `{"a":[1,{"b":null}]}`, `[]`, `[1,"2",[3]]`, `"` + strings.Repeat("x", 33) + `"`, `"` + strings.Repeat("x", 65) + `"`, `"` + strings.Repeat("é", 20) + `"`}
	for _, k := range fields {
		for _, v := range values {
			ev(`,"` + k + `":` + v)
			ev(`,"` + k + `":` + v + `,"` + k + `":` + v)
			ev(`,"` + k + `":` + v + `,"` + k + `":null`)
			ev(`,"` + k + `":null,"` + k + `":` + v)
			f(`{"` + k + `":` + v + `}`)
		}
	}
	// Depth: fastjson's parser refused values nested more than 300 deep.
	for _, n := range []int{1, 2, 297, 298, 299, 300, 301, 1000} {
		ev(`,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n))
		ev(`,"x":` + strings.Repeat("[", n) + "1" + strings.Repeat("]", n))
		ev(`,"x":` + strings.Repeat(`{"a":`, n) + "{}" + strings.Repeat("}", n))
		f(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	// A field error before a grammar error: the grammar error wins; UTF-8 beats both.
	f("{" + base + `,"kind":"jump","x":[1,}`)
	f("{" + base + `,"kind":"jump","x":"` + "\xff" + `"}`)
	f("{" + base + `,"kind":"join","x":[1,}` + "\xff")
	f(`{"kind":"join",` + "\xff")
	f(`[1,2` + "\xff")
	f("\xef\xbb\xbf" + validJSON)
}

// TestDecodeDiffGenerated compares the JSON decoders over generated events,
// valid and not, and over mutations of them.
func TestDecodeDiffGenerated(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		v := genJSON(r)
		checkDiff(t, v, false)
		checkDiff(t, mutate(r, v), false)
		p := genProto(r)
		checkDiff(t, p, true)
		checkDiff(t, mutate(r, p), true)
	}
}

// FuzzDecodeDiff compares the decoders with the reference ones on arbitrary
// values: `go test -fuzz FuzzDecodeDiff ./schemas/`.
func FuzzDecodeDiff(f *testing.F) {
	values, protobuf := seeds(f)
	for i, v := range values {
		f.Add(v, protobuf[i])
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(genJSON(r), false)
		f.Add(genProto(r), true)
	}
	f.Fuzz(func(t *testing.T, value []byte, protobuf bool) {
		if d := diff(value, protobuf); d != "" {
			t.Fatalf("protobuf=%v value %q:\n%s", protobuf, value, d)
		}
	})
}

// TestDecodeDiffProtoCases: the corners of the wire format.
func TestDecodeDiffProtoCases(t *testing.T) {
	var e Event
	if err := NewJSONDecoder().Decode([]byte(validJSON), &e, testNow); err != nil {
		t.Fatal(err)
	}
	good, err := MarshalProto(&e)
	if err != nil {
		t.Fatal(err)
	}
	f := func(b []byte) {
		t.Helper()
		checkDiff(t, b, true)
		checkDiff(t, append(bytes.Clone(good), b...), true)
		checkDiff(t, append(bytes.Clone(b), good...), true)
	}
	tag := protowire.AppendTag
	f(nil)
	f(good)
	for i := range good {
		f(good[:i])
	}
	for num := protowire.Number(0); num <= 20; num++ {
		for typ := protowire.Type(0); typ < 8; typ++ {
			f(tag(nil, num, typ))
			f(protowire.AppendVarint(tag(nil, num, typ), 1))
			f(protowire.AppendString(tag(nil, num, typ), "join"))
			f(protowire.AppendString(tag(nil, num, typ), "\xff"))
			f(protowire.AppendString(tag(nil, num, typ), ""))
			f(protowire.AppendFixed64(tag(nil, num, typ), 1))
		}
		f(protowire.AppendString(tag(protowire.AppendString(tag(nil, num, protowire.BytesType), "\xff"), num, protowire.BytesType), "US"))
		f(append(tag(nil, num, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
		f(append(tag(nil, num, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02))
		f(append(tag(nil, num, protowire.VarintType), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00))
		f(append(tag(nil, num, protowire.VarintType), 0x80, 0x00))
		f(tag(tag(nil, num, protowire.StartGroupType), num, protowire.EndGroupType))
		f(tag(tag(tag(tag(nil, num, protowire.StartGroupType), 2, protowire.StartGroupType), 2, protowire.EndGroupType), num, protowire.EndGroupType))
		f(tag(tag(nil, num, protowire.StartGroupType), num+1, protowire.EndGroupType))
		f(append(tag(nil, num, protowire.BytesType), 5, 'a'))
	}
	for _, num := range []uint64{uint64(protowire.MaxValidNumber), uint64(protowire.MaxValidNumber) + 1, 1<<31 - 1, 1 << 31, 1<<61 - 1} {
		f(protowire.AppendVarint(protowire.AppendVarint(nil, num<<3), 1))
	}
	f(append(tag(nil, 3, protowire.VarintType), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00))
}

func TestParseUUIDDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const chars = "0123456789abcdefABCDEF-gG{}: \x00\xff"
	f := func(b []byte) {
		t.Helper()
		got, gotErr := parseUUID(b)
		want, wantErr := refParseUUID(b)
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && got != want {
			t.Fatalf("parseUUID(%q) = %v, %v; uuid.ParseBytes: %v, %v", b, got, gotErr, want, wantErr)
		}
	}
	for range 100000 {
		b := []byte(randUUID(r))
		for range r.IntN(3) {
			b[r.IntN(len(b))] = chars[r.IntN(len(chars))]
		}
		f(b)
		f(b[:r.IntN(len(b))])
	}
	f([]byte("urn:uuid:6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31"))
	f([]byte("{6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a3}"))
}
