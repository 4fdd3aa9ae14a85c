package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestClassify(t *testing.T) {
	ex := func(code int32) error {
		return fmt.Errorf("insert 3 rows into events: %w", &clickhouse.Exception{Code: code, Message: "msg"})
	}
	f := func(err error, want errClass) {
		t.Helper()
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %s, want %s", err, got, want)
		}
	}
	// The data: the same rows are refused however often they are sent.
	for _, code := range []int32{6, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 395} {
		f(ex(code), refused)
	}
	// A reconcile after a retried insert that failed: the rows landed, whatever the code says.
	f(fmt.Errorf("insert: %w", &reconcileError{err: ex(53)}), transient)
	f(&reconcileError{err: ex(241)}, transient)
	// A block too big for the server's memory: halves may fit.
	f(ex(241), tooBig)
	f(ex(173), tooBig)
	// The server or the network: wait and retry.
	for _, code := range []int32{159, 202, 209, 210, 252, 242, 319, 394} {
		f(ex(code), transient)
	}
	// Not known here (a missing table 60, column 16, database 81, a wrong password 516): an
	// operator fixes it, and the block lands then; never dead-lettered.
	for _, code := range []int32{16, 60, 81, 516, 999, 0} {
		f(ex(code), transient)
	}
	f(io.EOF, transient)
	f(io.ErrUnexpectedEOF, transient)
	f(context.DeadlineExceeded, transient)
	f(context.Canceled, transient)
	f(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, transient)
	f(fmt.Errorf("read: %w", syscall.ECONNRESET), transient)
	f(errors.New("append column 3 of 10 rows: unexpected type"), transient)
	f(nil, transient)
}

func TestRefusalReason(t *testing.T) {
	f := func(err error, want string) {
		t.Helper()
		if got := refusalReason(err); got != want {
			t.Errorf("refusalReason(%v) = %q, want %q", err, got, want)
		}
	}
	f(fmt.Errorf("insert 1 rows into events: %w", &clickhouse.Exception{Code: 6,
		Message: "Cannot parse string 'x' as Int32:\n syntax error at begin of string."}),
		"clickhouse_rejected: CANNOT_PARSE_TEXT: Cannot parse string 'x' as Int32: syntax error at begin of string.")
	f(&clickhouse.Exception{Code: 241, Message: "Memory limit (for query) exceeded"},
		"clickhouse_rejected: MEMORY_LIMIT_EXCEEDED: Memory limit (for query) exceeded")
	f(errors.New("plain"), "clickhouse_rejected: plain")
	long := refusalReason(&clickhouse.Exception{Code: 6, Message: strings.Repeat("é", 1000)})
	if len(long) > 1100 || !strings.HasSuffix(long, "…") || !strings.Contains(long, "é") {
		t.Errorf("a long message is cut to one line of about 1000 bytes, got %d bytes", len(long))
	}
}
