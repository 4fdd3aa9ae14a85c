package schemas

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner walks a JSON value once, checking the grammar of RFC 8259 as it
// goes: the same grammar fastjson.ValidateBytes applied before (whitespace
// is space, tab, CR and LF; no leading zeros; escapes are the eight of the
// RFC and \uXXXX; no control characters in strings; strings are valid
// UTF-8), plus the parser's limit of maxDepth nested values. One difference:
// fastjson's validator looked for control characters in a string with
// escapes only after its last escape (it let "a<0x01>\n" through); RFC 8259
// and the contract refuse them anywhere in a string, and so does str.
//
// On a grammar error a method returns false with msg set and i at the
// offending byte.
type scanner struct {
	b   []byte
	i   int
	msg string
}

// maxDepth is how deep values may nest, the top-level value being at depth
// 1 (fastjson.MaxDepth, which counted scalars as well as containers).
const maxDepth = 300

// jtype is the type of a JSON value. Its names are fastjson's, which the
// dead-letter reasons have always used ("want a string, got number").
type jtype uint8

const (
	jNull jtype = iota
	jObject
	jArray
	jString
	jNumber
	jTrue
	jFalse
)

var jtypeNames = [...]string{"null", "object", "array", "string", "number", "true", "false"}

func (t jtype) String() string { return jtypeNames[t] }

func (s *scanner) fail(msg string) bool {
	s.msg = msg
	return false
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect consumes c after optional whitespace.
func (s *scanner) expect(c byte, msg string) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.fail(msg)
	}
	s.i++
	return true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special returns a word whose lowest set bit is the high bit of the first
// of the 8 bytes of w (little-endian) that needs a second look in a string:
// '"', '\\', a control character or a non-ASCII byte; 0 if there is none.
// (Borrows may set bits above the first such byte, never below it.)
func special(w uint64) uint64 {
	q := w ^ (lsb * '"')
	e := w ^ (lsb * '\\')
	m := (w - lsb*0x20) & ^w
	m |= (q - lsb) & ^q
	m |= (e - lsb) & ^e
	return (m | w) & msb
}

// firstSpecial returns the index of the first byte from i on that needs a
// second look in a string, or len(b).
func firstSpecial(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// str scans a string whose opening quote is at s.i-1, leaving s.i after the
// closing quote. It reports whether the string holds escapes.
func (s *scanner) str() (escaped, ok bool) {
	b := s.b
	i := s.i
	// Most strings of an event are short and plain: look for the closing
	// quote in the first word without a call.
	if i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := special(w); m != 0 {
			if n := bits.TrailingZeros64(m) >> 3; byte(w>>(n*8)) == '"' {
				s.i = i + n + 1
				return false, true
			}
		} else {
			i += 8
		}
	}
	for {
		i = firstSpecial(b, i)
		if i >= len(b) {
			s.i = i
			return false, s.fail("unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				s.i = i
				return false, s.fail("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					s.i = i
					return false, s.fail(`\u not followed by 4 hex digits`)
				}
				i += 6
			default:
				s.i = i
				return false, s.fail("unknown escape sequence")
			}
		case c < 0x20:
			s.i = i
			return false, s.fail("control character in a string")
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				s.i = i
				return false, s.fail("not valid UTF-8")
			}
			i += n
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) rune {
	switch {
	case c <= '9':
		return rune(c - '0')
	case c >= 'a':
		return rune(c - 'a' + 10)
	default:
		return rune(c - 'A' + 10)
	}
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// number scans a number at s.i.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		s.i = i
		return s.fail("unexpected end of input in a number")
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		s.i = i
		return s.fail("not a value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			s.i = i
			return s.fail("no digit after the decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			s.i = i
			return s.fail("no digit in the exponent")
		}
	}
	s.i = i
	return true
}

// literal scans true, false or null.
func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("not a value")
	}
	s.i += len(word)
	return true
}

// skip scans any value at s.i (after whitespace) nested at depth and
// returns its type.
func (s *scanner) skip(depth int) (jtype, bool) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, s.fail("unexpected end of input")
	}
	if depth > maxDepth {
		return 0, s.fail("values nested more than 300 deep")
	}
	switch s.b[s.i] {
	case '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return jObject, true
		}
		for {
			if !s.expect('"', "want a string key") {
				return 0, false
			}
			if _, ok := s.str(); !ok {
				return 0, false
			}
			if !s.expect(':', "want ':' after an object key") {
				return 0, false
			}
			if _, ok := s.skip(depth + 1); !ok {
				return 0, false
			}
			if more, ok := s.next('}'); !ok || !more {
				return jObject, ok
			}
		}
	case '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return jArray, true
		}
		for {
			if _, ok := s.skip(depth + 1); !ok {
				return 0, false
			}
			if more, ok := s.next(']'); !ok || !more {
				return jArray, ok
			}
		}
	case '"':
		s.i++
		_, ok := s.str()
		return jString, ok
	case 't':
		return jTrue, s.literal("true")
	case 'f':
		return jFalse, s.literal("false")
	case 'n':
		return jNull, s.literal("null")
	}
	return jNumber, s.number()
}

// next consumes the ',' (more is true) or the closing byte that follows a
// member or an element.
func (s *scanner) next(closing byte) (more, ok bool) {
	s.ws()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			return true, true
		case closing:
			s.i++
			return false, true
		}
	}
	if closing == '}' {
		return false, s.fail("want ',' or '}' after an object member")
	}
	return false, s.fail("want ',' or ']' after an array element")
}

// unescape decodes, in place, the escapes of a scanned string's contents and
// returns the decoded bytes, exactly as fastjson did (the decoded events must
// not change): a \uXXXX outside the surrogates becomes its UTF-8 form; a
// surrogate followed by another \uXXXX takes both, a valid pair giving its
// code point and anything else U+FFFD; a surrogate not followed by \u is
// kept as its six characters.
func unescape(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); {
		c := b[r]
		if c != '\\' {
			b[w] = c
			w++
			r++
			continue
		}
		e := b[r+1]
		r += 2
		switch e {
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			x := hex4(b[r:])
			r += 4
			switch {
			case !utf16.IsSurrogate(x):
				w += utf8.EncodeRune(b[w:], x)
			case r+6 <= len(b) && b[r] == '\\' && b[r+1] == 'u':
				w += utf8.EncodeRune(b[w:], utf16.DecodeRune(x, hex4(b[r+2:])))
				r += 6
			default:
				w += copy(b[w:], b[r-6:r])
			}
			continue
		default: // '"', '\\', '/'
			b[w] = e
		}
		w++
	}
	return b[:w]
}
