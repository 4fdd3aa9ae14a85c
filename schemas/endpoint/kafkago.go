package endpoint

import (
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// KafkaGoSASL returns the segmentio/kafka-go mechanism of s, nil for none (the producer library
// and the consumer's dead-letter writer are kafka-go clients).
func (s SASL) KafkaGoSASL() (sasl.Mechanism, error) {
	m, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	switch m {
	case Plain:
		return plain.Mechanism{Username: s.User, Password: s.Password}, nil
	case ScramSHA256, ScramSHA512:
		algo := scram.SHA256
		if m == ScramSHA512 {
			algo = scram.SHA512
		}
		mech, err := scram.Mechanism(algo, s.User, s.Password)
		if err != nil {
			return nil, fmt.Errorf("-kafka-sasl-user/-kafka-sasl-password: %w", err)
		}
		return mech, nil
	}
	return nil, nil
}

// Refused returns err as an ErrRefused error when it is a refusal of k's settings: a TLS
// failure (see the package's Refused) or a segmentio/kafka-go SASL error; else nil. The consumer
// adds franz-go's equivalents.
func (k Kafka) Refused(err error) error {
	if err == nil {
		return nil
	}
	if r := Refused("kafka "+strings.Join(k.Brokers, ","), "kafka", err); r != nil {
		return r
	}
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return k.RefusedSASL(err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return k.RefusedMechanism(err)
	case errors.Is(err, kafka.IllegalSASLState):
		return k.RefusedNoSASL(err)
	case !k.TLS.On() && (strings.Contains(err.Error(), "broker appears to be expecting TLS") || // kafka-go
		strings.Contains(err.Error(), "is this a plaintext connection speaking to a tls endpoint")): // franz-go
		return k.RefusedClosed(err)
	}
	return nil
}

// RefusedClosed wraps err, the broker closing every connection at once or answering with a TLS
// alert, as the mismatch of TLS (or SASL) it most often is.
func (k Kafka) RefusedClosed(err error) error {
	hint := "the broker closes the connection at once: this listener wants TLS (or SASL): set -kafka-tls, and -kafka-sasl-mechanism if it wants SASL"
	if k.TLS.On() {
		hint = "the broker closes the connection at once: this listener does not speak TLS: drop -kafka-tls and the -kafka-tls-* flags, or use the broker's TLS listener"
	}
	return NewRefused("kafka "+strings.Join(k.Brokers, ","), hint, err)
}

// RefusedMechanism wraps err as a refusal of k's SASL mechanism by the listener.
func (k Kafka) RefusedMechanism(err error) error {
	return NewRefused("kafka "+strings.Join(k.Brokers, ","), fmt.Sprintf("the broker does not offer SASL %s on this listener: choose another -kafka-sasl-mechanism, or the broker's SASL listener", k.SASL.Mechanism), err)
}

// RefusedNoSASL wraps err as a listener that does not expect SASL.
func (k Kafka) RefusedNoSASL(err error) error {
	return NewRefused("kafka "+strings.Join(k.Brokers, ","), "the broker's listener does not expect SASL: drop -kafka-sasl-mechanism, or use its SASL listener", err)
}

// RefusedSASL wraps err, an authentication failure, as a refusal of k's credentials.
func (k Kafka) RefusedSASL(err error) error {
	return NewRefused("kafka "+strings.Join(k.Brokers, ","), fmt.Sprintf("the broker refused user %q with %s: check -kafka-sasl-user and -kafka-sasl-password or -kafka-sasl-password-file (SPACEPULSE_KAFKA_SASL_PASSWORD_FILE)", k.SASL.User, strings.ToUpper(k.SASL.Mechanism)), err)
}
