package plugin

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
)

// secureTLSCACert is the secureJsonData key of the CA certificate(s), PEM, as in Grafana's own
// datasources.
const secureTLSCACert = "tlsCACert"

// serverNameRe is a DNS name as a certificate names it (a leading "*." is not a name to ask for).
var serverNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// tlsConfig is the client TLS configuration of jsonData js (tls on) and the PEM caPEM
// (secureJsonData.tlsCACert, may be empty); the error names the field to fix.
func tlsConfig(js jsonSettings, caPEM string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: js.TLSSkipVerify} //nolint:gosec // an explicit user choice for self-signed test servers
	if name := strings.TrimSpace(js.TLSServerName); name != "" {
		if net.ParseIP(name) == nil && !serverNameRe.MatchString(name) {
			return nil, fmt.Errorf("tlsServerName %q: want the host name the server's certificate is for, such as clickhouse.example.com, without scheme or port", js.TLSServerName)
		}
		tc.ServerName = name
	}
	if strings.TrimSpace(caPEM) != "" {
		pool, err := parseCACerts(caPEM)
		if err != nil {
			return nil, fmt.Errorf("tlsCACert: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// parseCACerts reads every CERTIFICATE block of a PEM text into a pool. Unlike
// x509.CertPool.AppendCertsFromPEM it says what is wrong: no PEM at all, a private key where the
// certificate belongs, or a block that does not parse.
func parseCACerts(text string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(text)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %d: %w", n+1, err)
			}
			pool.AddCert(cert)
			n++
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return nil, errors.New("holds a private key: paste the CA's certificate (-----BEGIN CERTIFICATE-----), never a key")
		}
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found: paste the CA's certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
	}
	return pool, nil
}

// tlsHint says which TLS setting to change for a connect error, or "" when err is not one a
// setting explains. tlsOn is jsonData.tls: a server that drops the connection during the
// handshake is, most likely, a secure port spoken to in plain text.
func tlsHint(err error, tlsOn bool) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return "the server's certificate is not signed by a CA the plugin trusts: set tlsCACert to the PEM of the CA that signed it (or tlsSkipVerify, for a test server only)"
	case errors.As(err, &hostname):
		return "the server's certificate is not for the host name the plugin checks (the address's host, or tlsServerName): set tlsServerName to a name the certificate is valid for"
	case errors.As(err, &invalid):
		return "the server's certificate is not valid: renew it on the server (or set tlsSkipVerify, for a test server only)"
	case errors.As(err, &record):
		return "the server did not answer TLS: point the address at its secure native port (tcp_port_secure, usually 9440), or turn off TLS"
	case !tlsOn && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		// ClickHouse 18.16 also closes it, without an error, on a database the user may not use.
		return "the server closed the connection during the handshake: if the address is its secure native port (usually 9440), turn on TLS; " +
			"else the user may not be allowed the database (allow_databases)"
	}
	return ""
}
