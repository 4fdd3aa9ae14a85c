package warehouse

// ExceptionCode returns the ClickHouse server error code in err (e.g. 516 or 193 for a wrong
// password, 62 for a syntax error), or 0 when err is not a server exception.
func ExceptionCode(err error) int32 { return exceptionCode(err) }
