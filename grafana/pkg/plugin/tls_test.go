package plugin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
)

func TestTLSHint(t *testing.T) {
	f := func(name string, err error, tlsOn bool, want string) {
		t.Helper()
		got := tlsHint(err, tlsOn)
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: hint %q, want %q", name, got, want)
		}
	}
	wrap := func(err error) error {
		return fmt.Errorf("connect to clickhouse x over TLS: %w", &tls.CertificateVerificationError{Err: err})
	}
	f("unknown CA", wrap(x509.UnknownAuthorityError{}), true, "set tlsCACert")
	f("wrong host", wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "ch"}), true, "set tlsServerName")
	f("expired", wrap(x509.CertificateInvalidError{Reason: x509.Expired}), true, "renew it")
	f("plain port", fmt.Errorf("connect: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), true, "secure native port")
	f("reset, tls off", fmt.Errorf("handshake: %w", syscall.ECONNRESET), false, "turn on TLS")
	f("EOF, tls off", fmt.Errorf("handshake: %w", io.EOF), false, "turn on TLS")
	f("reset, tls on", fmt.Errorf("handshake: %w", syscall.ECONNRESET), true, "")
	f("refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false, "")
	f("other", errors.New("boom"), true, "")
}
