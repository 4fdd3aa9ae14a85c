package ingest

import (
	"errors"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// errClass is what the writer does about a failed insert (see classify).
type errClass int8

const (
	// transient: the server or the network, not the rows (a connection lost, a timeout, a server
	// overloaded or shutting down, a table read-only for a while). Wait and retry the same block:
	// it lands once the server is back.
	transient errClass = iota
	// refused: ClickHouse refuses some rows of the block for good (a value it cannot parse,
	// convert or store). Retrying the same block can never succeed; splitting it finds the rows
	// at fault, which go to the dead-letter topic while the others land.
	refused
	// tooBig: the block is more than the server takes at once (MEMORY_LIMIT_EXCEEDED). Halves
	// may fit, so the block is split like a refused one; a single row that still does not fit
	// is refused.
	tooBig
)

func (c errClass) String() string {
	switch c {
	case refused:
		return "refused"
	case tooBig:
		return "too_big"
	}
	return "transient"
}

// refusedCodes are the ClickHouse exception codes that say an inserted value is wrong for its
// column or for an expression computed from it at insert (a DEFAULT or MATERIALIZED column, a
// materialized view): the same rows are refused however often they are sent.
var refusedCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	53:  "TYPE_MISMATCH",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	117: "INCORRECT_DATA",
	131: "TOO_LARGE_STRING_SIZE",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
	349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
	395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", // throwIf in a column or view expression: a check on the data
}

// tooBigCodes are the codes of a block larger than the server takes at once.
var tooBigCodes = map[int32]string{
	241: "MEMORY_LIMIT_EXCEEDED",
	173: "CANNOT_ALLOCATE_MEMORY",
}

// classify says whether err, returned by an insert, is about the rows (refused, tooBig) or
// about the server and the network (transient). Every error that is not a ClickHouse exception
// with a code listed above is transient: network errors, io.EOF, timeouts and context deadlines,
// TOO_MANY_PARTS (252), TOO_MANY_SIMULTANEOUS_QUERIES (202), SOCKET_TIMEOUT (209),
// NETWORK_ERROR (210), TIMEOUT_EXCEEDED (159), and every code not known here (a missing table or
// column, a wrong password: an operator fixes those, and the block then lands). Losing nothing
// matters more than progress: an unknown error stalls the partition, loudly, instead of sending
// good events to the dead-letter topic.
func classify(err error) errClass {
	var re *reconcileError
	if errors.As(err, &re) {
		return transient // the rows landed: only the reconcile after them is to be done again
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return transient
	}
	if _, ok := refusedCodes[ex.Code]; ok {
		return refused
	}
	if _, ok := tooBigCodes[ex.Code]; ok {
		return tooBig
	}
	return transient
}

// refusalReason is the dead-letter reason of a row ClickHouse refused: "clickhouse_rejected: "
// and the server's message on one line (the `error` header is one line).
func refusalReason(err error) string {
	msg := err.Error()
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		msg = ex.Message
		if name, ok := refusedCodes[ex.Code]; ok {
			msg = name + ": " + msg
		} else if name, ok := tooBigCodes[ex.Code]; ok {
			msg = name + ": " + msg
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 1000 {
		msg = strings.ToValidUTF8(msg[:1000], "") + "…"
	}
	return "clickhouse_rejected: " + msg
}
