package producer

import (
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
)

var (
	headerJSON     = []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
	headerProtobuf = []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeProtobuf)}}
)

// encode validates ev and returns its Kafka message. The header slices are
// shared and read-only.
func encode(ev *schemas.Event, enc Encoding, pool *sync.Pool) (kafka.Message, error) {
	if ev.EventID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return kafka.Message{}, fmt.Errorf("new event id: %w", err)
		}
		ev.EventID = id
	}
	if err := schemas.Validate(ev, time.Now()); err != nil {
		return kafka.Message{}, fmt.Errorf("produce: %w", err)
	}
	key, _ := ev.SessionID.MarshalText() // never fails for a UUID
	switch enc {
	case Protobuf:
		v, err := schemas.MarshalProto(ev)
		if err != nil {
			return kafka.Message{}, fmt.Errorf("encode protobuf: %w", err)
		}
		return kafka.Message{Key: key, Value: v, Headers: headerProtobuf}, nil
	default:
		e := pool.Get().(*schemas.JSONEncoder)
		v := e.AppendJSON(make([]byte, 0, 384), ev)
		pool.Put(e)
		return kafka.Message{Key: key, Value: v, Headers: headerJSON}, nil
	}
}
