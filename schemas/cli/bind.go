package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// Secret registers -name and -name-file (so also SPACEPULSE_NAME and SPACEPULSE_NAME_FILE): the
// secret is given as is, or read from the file (one trailing line break dropped), so that it need
// not show in the process list. Both at once is an error.
func (fs *FlagSet) Secret(p *string, name, usage string) {
	var file string
	fs.StringVar(p, name, *p, usage+" (better: -"+name+"-file)")
	fs.StringVar(&file, name+"-file", "", "read -"+name+" from this file (a mounted secret)")
	fs.after = append(fs.after, func() error {
		if file == "" {
			return nil
		}
		if given := fs.Lookup(name).Value.String(); given != "" && given != fs.Lookup(name).DefValue {
			return fmt.Errorf("-%s and -%s-file are both set (%s, %s_FILE): keep one", name, name, Env(name), Env(name))
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("-%s-file: %w (%s_FILE)", name, err, Env(name))
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return fmt.Errorf("-%s-file %s is empty: put the secret in it, or drop the flag (%s_FILE)", name, file, Env(name))
		}
		*p = s
		return nil
	})
}

// TLS registers -<prefix>-tls, -<prefix>-tls-ca-file, -<prefix>-tls-cert-file,
// -<prefix>-tls-key-file, -<prefix>-tls-server-name and -<prefix>-tls-insecure-skip-verify;
// server names the server in their help ("Kafka").
func (fs *FlagSet) TLS(t *endpoint.TLS, prefix, server string) {
	fs.BoolVar(&t.Enable, prefix+"-tls", t.Enable, "connect to "+server+" over TLS (implied by the other -"+prefix+"-tls-* flags)")
	fs.StringVar(&t.CAFile, prefix+"-tls-ca-file", t.CAFile, "PEM file of the CA that signed "+server+"'s certificate (default: the system's roots)")
	fs.StringVar(&t.CertFile, prefix+"-tls-cert-file", t.CertFile, "PEM client certificate, when "+server+" requires one (with -"+prefix+"-tls-key-file)")
	fs.StringVar(&t.KeyFile, prefix+"-tls-key-file", t.KeyFile, "PEM key of -"+prefix+"-tls-cert-file")
	fs.StringVar(&t.ServerName, prefix+"-tls-server-name", t.ServerName, "name "+server+"'s certificate must carry (default: the host dialled)")
	fs.BoolVar(&t.InsecureSkipVerify, prefix+"-tls-insecure-skip-verify", t.InsecureSkipVerify, "accept any certificate from "+server+" (test servers only)")
}

// Kafka registers -kafka-brokers (default brokers), the -kafka-tls-* flags and -kafka-sasl-mechanism,
// -kafka-sasl-user, -kafka-sasl-password and -kafka-sasl-password-file, the same for every binary.
func (fs *FlagSet) Kafka(k *endpoint.Kafka, brokers string) {
	k.Brokers, _ = endpoint.ParseBrokers(brokers)
	fs.Func("kafka-brokers", "Kafka bootstrap brokers, comma-separated host:port (default "+brokers+")", func(v string) error {
		list, err := endpoint.ParseBrokers(v)
		if err != nil {
			return err
		}
		k.Brokers = list
		return nil
	})
	fs.TLS(&k.TLS, "kafka", "Kafka")
	fs.StringVar(&k.SASL.Mechanism, "kafka-sasl-mechanism", k.SASL.Mechanism, "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: none)")
	fs.StringVar(&k.SASL.User, "kafka-sasl-user", k.SASL.User, "SASL user name")
	fs.Secret(&k.SASL.Password, "kafka-sasl-password", "SASL password")
	fs.Check(func() error { return k.Validate() }) // k.Validate would copy *k now
}

// Check adds a check that Parse runs once everything is read (in the order added), such as
// a config's Validate: its error is Parse's.
func (fs *FlagSet) Check(f func() error) { fs.after = append(fs.after, f) }
