package schemas

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestProtoRoundTripAndContentType(t *testing.T) {
	jd := NewJSONDecoder()
	var want Event
	if err := jd.Decode([]byte(validJSON), &want, testNow); err != nil {
		t.Fatal(err)
	}
	want = want.Clone()
	b, err := MarshalProto(&want)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder()
	var got Event
	if err := d.Decode(ContentTypeProtobuf, b, &got, testNow); err != nil {
		t.Fatalf("decode protobuf: %v", err)
	}
	if got != want {
		t.Fatalf("protobuf round trip:\n%+v\nwant\n%+v", got, want)
	}
	f := func(ct string, value []byte, wantErr string) {
		t.Helper()
		var e Event
		err := d.Decode(ct, value, &e, testNow)
		if wantErr == "" {
			if err != nil {
				t.Fatalf("content-type %q: %v", ct, err)
			}
			return
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("content-type %q: got %v, want %q", ct, err, wantErr)
		}
	}
	f("", []byte(validJSON), "")
	f("application/json; charset=utf-8", []byte(validJSON), "")
	f("text/csv", []byte(validJSON), "unknown content-type")
	f(ContentTypeProtobuf, []byte{0xff, 0xff, 0xff}, "malformed Protobuf")
	f(ContentTypeProtobuf, []byte(validJSON), "malformed Protobuf")

	m := ToProto(&want)
	m.HttpStatus = proto.Int64(999)
	b, _ = proto.Marshal(m)
	f(ContentTypeProtobuf, b, "http_status")
	m = ToProto(&want)
	m.Attempt = proto.Int64(-3)
	b, _ = proto.Marshal(m)
	f(ContentTypeProtobuf, b, "attempt")
	m = ToProto(&want)
	m.UserId = ""
	b, _ = proto.Marshal(m)
	f(ContentTypeProtobuf, b, "user_id: missing")
}
