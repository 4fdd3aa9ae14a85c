package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// ErrRefused marks a connection the server (or our own TLS check of it) refused for its settings:
// an untrusted or mismatched certificate, TLS spoken to a plain port or the reverse, wrong
// credentials. Retrying cannot help; binaries exit 2 with the hint.
var ErrRefused = errors.New("connection refused for its settings")

// RefusedError is an ErrRefused error: what was refused, why, and which flags to change.
type RefusedError struct {
	What string // "kafka 127.0.0.1:9094", "clickhouse 127.0.0.1:9440"
	Hint string // what to change, naming the flags
	Err  error  // the client's error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.What, e.Err, e.Hint)
}

func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Err} }

// Refused returns err as a *RefusedError when it is a TLS failure a setting can fix (prefix names
// the flags: "kafka" or "clickhouse"), else nil. Callers add the refusals of their own client
// (a SASL or server authentication error) with NewRefused.
func Refused(what, prefix string, err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unknown):
		return NewRefused(what, fmt.Sprintf("the server's certificate is signed by a CA this client does not trust: set -%s-tls-ca-file to that CA's PEM file", prefix), err)
	case errors.As(err, &hostname):
		return NewRefused(what, fmt.Sprintf("the server's certificate is not for this host: connect by a name it carries, or set -%s-tls-server-name", prefix), err)
	case errors.As(err, &invalid):
		return NewRefused(what, fmt.Sprintf("the server's certificate is not valid (expired or not for serving): renew it, or for a test server only set -%s-tls-insecure-skip-verify", prefix), err)
	case errors.As(err, &verify):
		return NewRefused(what, fmt.Sprintf("the server's certificate failed verification: check -%s-tls-ca-file and -%s-tls-server-name", prefix, prefix), err)
	case errors.As(err, &header), strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		return NewRefused(what, fmt.Sprintf("this port does not speak TLS: drop -%s-tls, or use the server's TLS port", prefix), err)
	}
	return nil
}

// NewRefused wraps err as a refusal of what's settings, with a hint naming the flags to change.
func NewRefused(what, hint string, err error) error {
	return &RefusedError{What: what, Hint: hint, Err: err}
}
