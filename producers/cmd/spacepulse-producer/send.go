package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fastjson"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/schemas"
)

var jsonHeader = []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}

// send queues every non-blank line of the file as one message, as is: the
// consumer, not this tool, decides what is valid (invalid lines go to the
// dead-letter topic there). The key is the line's session_id when it has one.
func send(ctx context.Context, p *producer.Producer, file string) (int64, error) {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return 0, fmt.Errorf("open events file: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var n int64
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		value := bytes.Clone(line)
		var key []byte
		if s := fastjson.GetBytes(value, "session_id"); s != nil {
			key = bytes.Clone(s)
		}
		if err := p.ProduceMessage(ctx, kafka.Message{Key: key, Value: value, Headers: jsonHeader}); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read events file after %d lines: %w", n, err)
	}
	return n, nil
}
