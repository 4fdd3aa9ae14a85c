package schemas

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// parseUUID accepts the canonical 36-character form, any version, any case,
// as uuid.ParseBytes does for 36 bytes. It decodes 8 hex digits at a time.
func parseUUID(b []byte) (uuid.UUID, error) {
	var id uuid.UUID
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return uuid.Nil, ErrInvalid
	}
	le := binary.LittleEndian
	a, ok1 := hex8(le.Uint64(b[0:]))
	c, ok2 := hex8(uint64(le.Uint32(b[9:])) | uint64(le.Uint32(b[14:]))<<32)
	e, ok3 := hex8(uint64(le.Uint32(b[19:])) | uint64(le.Uint32(b[24:]))<<32)
	f, ok4 := hex8(le.Uint64(b[28:]))
	if !(ok1 && ok2 && ok3 && ok4) {
		return uuid.Nil, ErrInvalid
	}
	le.PutUint32(id[0:], a)
	le.PutUint32(id[4:], c)
	le.PutUint32(id[8:], e)
	le.PutUint32(id[12:], f)
	return id, nil
}

// inRange sets the high bit of each byte of w in lo-hi, for w with every
// byte below 0x80: then adding to a byte never carries into the next, and
// b + 0x80 - lo has its high bit set when b >= lo.
func inRange(w uint64, lo, hi byte) uint64 {
	return (w + lsb*uint64(0x80-lo)) & ^(w + lsb*uint64(0x80-hi-1)) & msb
}

// hex8 decodes the 8 hex digits of w, the first in the low byte, into 4
// bytes, the first in the low byte. It reports whether all 8 were hex digits.
func hex8(w uint64) (uint32, bool) {
	if w&msb != 0 {
		return 0, false
	}
	digit := inRange(w, '0', '9')
	lower := w | lsb*0x20 // 'A'-'F' and only they become 'a'-'f'
	letter := inRange(lower, 'a', 'f')
	if digit|letter != msb {
		return 0, false
	}
	// A digit's value is its low nibble, a letter's its low nibble + 9.
	n := w&(lsb*0x0f) + (letter>>7)*9
	// Each 16-bit lane to one byte (first digit high), then the lanes together.
	n = (n&0x00ff00ff00ff00ff)<<4 | (n>>8)&0x00ff00ff00ff00ff
	n = (n | n>>8) & 0x0000ffff0000ffff
	n = (n | n>>16) & 0xffffffff
	return uint32(n), true
}
