package plugin

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// VariableQuery is the model of a dashboard variable of this datasource (the front end's
// VariableQueryEditor writes it and answers it through the rooms and values resources).
type VariableQuery struct {
	// Kind is rooms (the rooms with events in the dashboard's range) or values (the values of
	// Dimension, in Room or in every room).
	Kind      string `json:"kind"`
	Dimension string `json:"dimension,omitempty"`
	Room      string `json:"room,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	RefID     string `json:"refId,omitempty"`
}

// ParseVariableQuery decodes a variable query strictly and validates it.
func ParseVariableQuery(raw []byte) (VariableQuery, error) {
	var q VariableQuery
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return q, fmt.Errorf("%w: variable: %v", ErrInvalidQuery, err)
	}
	return q, q.Validate()
}

// Validate checks the variable query; the error says what to change.
func (q VariableQuery) Validate() error {
	switch q.Kind {
	case "rooms":
		if q.Dimension != "" || q.Room != "" {
			return fmt.Errorf("%w: variable kind rooms takes no dimension or room", ErrInvalidQuery)
		}
	case "values":
		if err := warehouse.CheckDimension(q.Dimension); err != nil {
			return fmt.Errorf("%w: variable: %v", ErrInvalidQuery, err)
		}
		if len(q.Room) > MaxRoomLength {
			return fmt.Errorf("%w: variable room is longer than %d", ErrInvalidQuery, MaxRoomLength)
		}
	default:
		return fmt.Errorf("%w: variable kind %q: want rooms or values", ErrInvalidQuery, q.Kind)
	}
	if q.Limit < 0 || q.Limit > resourceMaxLimit {
		return fmt.Errorf("%w: variable limit %d: want 0 (default) to %d", ErrInvalidQuery, q.Limit, resourceMaxLimit)
	}
	return nil
}
