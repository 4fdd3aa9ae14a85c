package schemas

import (
	"mime"
	"strings"
	"time"
)

// Decoder decodes a Kafka value by its `content-type` header: JSON when the
// header is absent or application/json, Protobuf for application/x-protobuf;
// any other content type makes the event invalid. It is not safe for
// concurrent use.
type Decoder struct {
	json  *JSONDecoder
	proto ProtoDecoder
}

// NewDecoder returns a decoder ready for use.
func NewDecoder() *Decoder {
	return &Decoder{json: NewJSONDecoder()}
}

// Decode fills ev from value, chosen by contentType, and validates it with
// now as the receiver's clock. The filled event aliases the decoder's buffers
// until the next call. It returns nil or an error matching ErrInvalid.
func (d *Decoder) Decode(contentType string, value []byte, ev *Event, now time.Time) error {
	switch contentType {
	case "", ContentTypeJSON:
		return d.json.Decode(value, ev, now)
	case ContentTypeProtobuf:
		return d.proto.Decode(value, ev, now)
	}
	// Accept parameters such as "application/json; charset=utf-8".
	mt, params, err := mime.ParseMediaType(contentType)
	if err == nil {
		cs, hasCS := params["charset"]
		switch {
		case mt == ContentTypeJSON && (!hasCS || strings.EqualFold(cs, "utf-8")):
			return d.json.Decode(value, ev, now)
		case mt == ContentTypeProtobuf:
			return d.proto.Decode(value, ev, now)
		}
	}
	return invalid("", "unknown content-type %q (want %s or %s)", oneLine(contentType), ContentTypeJSON, ContentTypeProtobuf)
}
