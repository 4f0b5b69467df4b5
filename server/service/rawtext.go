package service

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckJSONText refuses a raw JSON document holding text that decoding
// would rewrite: invalid UTF-8 bytes, or a \u escape of a lone UTF-16
// surrogate, both of which encoding/json silently turns into U+FFFD. It
// must run on the bytes before they are decoded. The error is a
// *ValidationError naming the field (dotted key path; "body" outside any
// field). Valid documents cost one utf8.Valid pass and one search for
// `\u`.
func CheckJSONText(raw []byte) error {
	if utf8.Valid(raw) && !mayHoldSurrogateEscape(raw) {
		return nil
	}
	return scanJSONText(raw)
}

// mayHoldSurrogateEscape reports a `\uD` or `\ud` anywhere (an escaped
// backslash before it gives a false positive, which only costs the scan).
func mayHoldSurrogateEscape(raw []byte) bool {
	for {
		i := bytes.Index(raw, []byte(`\u`))
		if i < 0 || i+2 >= len(raw) {
			return false
		}
		if raw[i+2]|0x20 == 'd' {
			return true
		}
		raw = raw[i+2:]
	}
}

// jsonLevel is one open object or array of the scan; key is the object's
// current key.
type jsonLevel struct {
	object bool
	key    string
}

func scanJSONText(raw []byte) error {
	var levels []jsonLevel
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '{', '[':
			levels = append(levels, jsonLevel{object: raw[i] == '{'})
			i++
		case '}', ']':
			if len(levels) > 0 {
				levels = levels[:len(levels)-1]
			}
			i++
		case '"':
			end, problem := scanJSONString(raw, i+1)
			k := end
			for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
				k++
			}
			isKey := k < len(raw) && raw[k] == ':' && len(levels) > 0 && levels[len(levels)-1].object
			if problem != "" {
				return Invalid(fieldPath(levels, isKey), "must be valid text: %s", problem)
			}
			if isKey {
				levels[len(levels)-1].key = string(raw[i+1 : end-1])
			}
			i = end
		default:
			if raw[i] >= utf8.RuneSelf {
				if r, size := utf8.DecodeRune(raw[i:]); r == utf8.RuneError && size == 1 {
					return Invalid(fieldPath(levels, false), "must be valid text: invalid UTF-8 bytes")
				}
			}
			i++
		}
	}
	return nil
}

// fieldPath names the value being scanned by the keys of the open objects;
// for a key itself, the object holding it.
func fieldPath(levels []jsonLevel, isKey bool) string {
	if isKey {
		levels = levels[:len(levels)-1]
	}
	var keys []string
	for _, l := range levels {
		if l.object && l.key != "" {
			keys = append(keys, l.key)
		}
	}
	if len(keys) == 0 {
		return "body"
	}
	return strings.Join(keys, ".")
}

// scanJSONString scans a string token from just after its opening quote and
// returns the index after its closing quote and the first problem found
// ("" when none).
func scanJSONString(raw []byte, i int) (end int, problem string) {
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '"':
			return i + 1, problem
		case c == '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				r, ok := hex4(raw, i+2)
				if ok && r >= 0xD800 && r < 0xE000 {
					if r < 0xDC00 && i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
						if r2, ok := hex4(raw, i+8); ok && r2 >= 0xDC00 && r2 < 0xE000 {
							i += 12 // a surrogate pair: one character
							continue
						}
					}
					if problem == "" {
						problem = fmt.Sprintf(`lone UTF-16 surrogate \u%04x`, r)
					}
					i += 6
					continue
				}
			}
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 && problem == "" {
				problem = "invalid UTF-8 bytes"
			}
			i += size
		}
	}
	return len(raw), problem
}

// hex4 parses the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
