package ingest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Dead letters the dead-letter topic refuses for their size.
const (
	// DeadLetterMaxValue is what is kept of the value (and of the key) of a dead letter that the
	// writer or the broker refuses for its size: 64 KiB, the contract's largest valid value, so
	// that a cut letter still holds more than any event, and fits a topic of Kafka's default
	// max.message.bytes (1 MiB) and much less.
	DeadLetterMaxValue = 64 << 10
	// TruncatedHeader is added to a dead letter whose value was cut to DeadLetterMaxValue; its
	// value is the original size in bytes (decimal). TruncatedKeyHeader likewise for the key.
	TruncatedHeader    = "spacepulse-truncated"
	TruncatedKeyHeader = "spacepulse-truncated-key"
)

// dlqBatchBytes bounds what the dead-letter writer sends to one partition in one record batch
// (kafka.Writer.BatchBytes): below Kafka's default max.message.bytes (1,048,588), so that many
// small dead letters never add up to a batch the broker refuses (16 MiB did: 10,000 invalid
// events of 300 bytes make 3 MB). A single letter above it is refused by the writer itself
// (kafka.MessageTooLargeError) and cut (writeDead).
const dlqBatchBytes = 1_000_000

// writeDead writes msgs to the dead-letter topic, retrying until it succeeds or ctx ends (see
// retry). A letter refused for its size (kafka-go's MessageTooLargeError before sending, or the
// broker's MessageSizeTooLarge, error 10, for a topic with a smaller max.message.bytes) is cut
// to DeadLetterMaxValue with TruncatedHeader and written again at once: a size error is never
// retried as it was. Letters already small that are still refused for size (a topic limit
// below 64 KiB, or a batch of them too large together) are then written one at a time; if
// that fails too, they are retried with backoff, and the log says to raise the topic's
// max.message.bytes. After a partial failure only the letters that failed are written again.
func (p *Pipeline) writeDead(ctx context.Context, msgs []kafka.Message) error {
	pending := msgs
	oneByOne := false
	return p.retry(ctx, "write dead letters", func(ctx context.Context) error {
		for {
			err := p.writeLetters(ctx, pending, oneByOne)
			if err == nil {
				return nil
			}
			var size bool
			pending, size = failedLetters(pending, err)
			if !size {
				return err
			}
			cut := 0
			for i := range pending {
				if truncateLetter(&pending[i]) {
					cut++
				}
			}
			switch {
			case cut > 0:
				p.cfg.Logger.Warn("dead letters over the dead-letter topic's size limit cut to 64 KiB",
					slog.Int("letters", cut), slog.String("header", TruncatedHeader), slog.Any("err", err))
			case !oneByOne:
				oneByOne = true
			default:
				p.cfg.Logger.Error("dead letters of at most 64 KiB refused for their size: raise max.message.bytes of the dead-letter topic",
					slog.String("topic", p.cfg.DLQTopic), slog.Int("letters", len(pending)))
				return err
			}
		}
	})
}

// writeLetters writes msgs in one call, or one call each; in the latter case the error is a
// kafka.WriteErrors as the writer's own.
func (p *Pipeline) writeLetters(ctx context.Context, msgs []kafka.Message, oneByOne bool) error {
	if !oneByOne {
		return p.dlq.WriteMessages(ctx, msgs...)
	}
	errs := make(kafka.WriteErrors, len(msgs))
	failed := false
	for i := range msgs {
		if errs[i] = p.dlq.WriteMessages(ctx, msgs[i]); errs[i] != nil {
			failed = true
		}
	}
	if failed {
		return errs
	}
	return nil
}

// failedLetters returns the letters of msgs that err says were not written, and whether any of
// them was refused for its size.
func failedLetters(msgs []kafka.Message, err error) (failed []kafka.Message, size bool) {
	var we kafka.WriteErrors
	if errors.As(err, &we) && len(we) == len(msgs) {
		for i, e := range we {
			if e != nil {
				failed = append(failed, msgs[i])
				size = size || sizeError(e)
			}
		}
		return failed, size
	}
	return msgs, sizeError(err) // nothing is known to be written
}

// sizeError reports whether err refuses a message for its size.
func sizeError(err error) bool {
	var tooLarge kafka.MessageTooLargeError
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.As(err, &tooLarge)
}

// truncateLetter cuts the value and key of m to DeadLetterMaxValue, adding TruncatedHeader (and
// TruncatedKeyHeader) with the original size; it reports whether it cut anything. The headers
// of m are copied, not appended to in place: they may be shared with the fetched message.
func truncateLetter(m *kafka.Message) bool {
	cut := false
	if n := len(m.Value); n > DeadLetterMaxValue {
		m.Value = m.Value[:DeadLetterMaxValue]
		m.Headers = append(slices.Clip(m.Headers), kafka.Header{Key: TruncatedHeader, Value: strconv.AppendInt(nil, int64(n), 10)})
		cut = true
	}
	if n := len(m.Key); n > DeadLetterMaxValue {
		m.Key = m.Key[:DeadLetterMaxValue]
		m.Headers = append(slices.Clip(m.Headers), kafka.Header{Key: TruncatedKeyHeader, Value: strconv.AppendInt(nil, int64(n), 10)})
		cut = true
	}
	return cut
}
