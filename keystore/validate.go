package keystore

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxKeyNameLen bounds a key name, in characters.
const MaxKeyNameLen = 200

// ErrMissing is CheckKeyName's error for an empty or blank name: the
// value is missing rather than wrong.
var ErrMissing = errors.New("missing")

// CheckKeyName is the rule for key names, the one every front end and
// every Store applies: not blank, valid UTF-8, at most MaxKeyNameLen
// characters, every one visible (CheckVisible). Its error (ErrMissing for a blank
// name) reads after the name of the field, as in "invalid --name: ...".
func CheckKeyName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return ErrMissing
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxKeyNameLen:
		return fmt.Errorf("longer than %d characters", MaxKeyNameLen)
	}
	return CheckVisible(name)
}

// CheckVisible fails unless every character of s is a visible one or the
// ASCII space: a name must look like what it is in `keys list`, the audit
// log and the X-Keygate-Key-Name header. It refuses control characters,
// Unicode format characters (category Cf: the bidi overrides and isolates
// U+202A-U+202E and U+2066-U+2069, which reorder what follows them, the
// zero-width characters U+200B-U+200F and U+2060-U+2064, U+FEFF, soft
// hyphens...), other spaces and separators (U+00A0, U+2028...), private
// use and unassigned code points, and the few letters and marks that
// render as nothing (the Hangul fillers, U+034F, U+2800...). Its error
// names the first such character by code point, and says where it is.
func CheckVisible(s string) error {
	for i, r := range s {
		if !visible(r) {
			return fmt.Errorf("holds %U, an invisible or control character, at byte %d: use visible characters only", r, i)
		}
	}
	return nil
}

// visible reports whether r shows as itself: a letter, mark, number,
// punctuation or symbol (unicode.IsPrint, which admits the ASCII space of
// all spaces) that does not render as blank.
func visible(r rune) bool {
	switch r {
	case '\u034f', '\u115f', '\u1160', '\u17b4', '\u17b5', '\u2800', '\u3164', '\uffa0', utf8.RuneError:
		return false
	}
	return unicode.IsPrint(r)
}

// Validate checks what a store's schema cannot: the shape of the id, the
// name by CheckKeyName, and a hash. Every Store calls it before writing a
// key.
func (k NewKey) Validate() error {
	switch {
	case !ValidKeyID(k.ID):
		return fmt.Errorf("invalid key id %q", k.ID)
	case k.Hash == Hash{}:
		return errors.New("the key hash is missing")
	}
	if err := (Rotation{Every: k.RotateEvery}).Validate(); err != nil {
		return err
	}
	if err := CheckKeyName(k.Name); err != nil {
		return fmt.Errorf("invalid key name: %w", err)
	}
	return nil
}

// Normalize checks the integration's id and base URL and returns it with
// the base URL normalized by ParseBaseURL. Every Store calls it before
// writing an integration, and stores what it returns.
func (in Integration) Normalize() (Integration, error) {
	if !ValidIntegrationID(in.ID) {
		return Integration{}, fmt.Errorf("invalid id %q: want 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", in.ID)
	}
	u, err := ParseBaseURL(in.BaseURL)
	if err != nil {
		return Integration{}, err
	}
	if err := in.Rotation.Validate(); err != nil {
		return Integration{}, err
	}
	in.BaseURL = u.String()
	return in, nil
}

// ValidateForRotation checks what Validate does but the name, which a
// rotated key takes from the key it replaces.
func (k NewKey) ValidateForRotation() error {
	k.Name = "rotated"
	return k.Validate()
}

// AmbiguousPath reports whether p, a URL path as sent on the wire
// (percent-encoded), could name a different path to a server that decodes
// or normalizes it than to one that does not: after any number of
// percent-decodings (%2e, %252e, mixed), it holds a `.` or `..` segment (or
// one such as `..;x`, which some servers read as `..`), an encoded `/` or
// `\`, a backslash, a NUL or another control byte; or it starts with `//`,
// which some servers read as a host. keygate refuses such
// paths; every other path means one thing to every server.
//
// It does not allocate unless p holds a percent-escape.
func AmbiguousPath(p string) bool {
	if strings.HasPrefix(p, "//") {
		return true
	}
	for i := 0; i < len(p); i++ {
		if pathSpecial[p[i]] {
			return ambiguousDecoded(p)
		}
	}
	return false
}

// pathSpecial marks the bytes without which a path cannot be ambiguous:
// `.`, `%`, `\` and the control bytes.
var pathSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t[0x7f], t['.'], t['%'], t['\\'] = true, true, true, true
	return t
}()

// ambiguousDecoded is AmbiguousPath for a path that holds a special byte:
// it checks p and each of its percent-decodings.
func ambiguousDecoded(p string) bool {
	for {
		if ambiguousAsIs(p) {
			return true
		}
		if strings.IndexByte(p, '%') < 0 {
			return false
		}
		decoded, changed := unescapeLoose(p)
		if !changed {
			return false
		}
		p = decoded
	}
}

// ambiguousAsIs reports whether p holds, without decoding it further, a
// dot segment, a backslash, a control byte, an escaped `/` or `\`, or a
// leading `//`.
func ambiguousAsIs(p string) bool {
	if strings.HasPrefix(p, "//") {
		return true
	}
	segStart := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if isDotSegment(p[segStart:i]) {
				return true
			}
			segStart = i + 1
			continue
		}
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f || c == '\\':
			return true
		case c == '%' && i+2 < len(p) && (p[i+1] == '2' && p[i+2]|0x20 == 'f' || p[i+1] == '5' && p[i+2]|0x20 == 'c'):
			return true
		}
	}
	return false
}

// isDotSegment reports whether seg, up to any `;` parameter, is `.` or
// `..`.
func isDotSegment(seg string) bool {
	if i := strings.IndexByte(seg, ';'); i >= 0 {
		seg = seg[:i]
	}
	return seg == "." || seg == ".."
}

// unescapeLoose decodes every valid %XX escape of s, leaving any other `%`
// as it is, and reports whether there was one.
func unescapeLoose(s string) (string, bool) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			if b == nil {
				b = make([]byte, 0, len(s))
				b = append(b, s[:i]...)
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		if b != nil {
			b = append(b, s[i])
		}
	}
	if b == nil {
		return s, false
	}
	return string(b), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// checkBaseURL refuses what ParseBaseURL's url.Parse lets through but an
// integration's base URL must not have: a port outside 1-65535 (or an
// empty one after the colon), and a path that AmbiguousPath refuses, such
// as one with a dot-segment or an encoded slash. u is raw, parsed.
func checkBaseURL(raw string, u *url.URL) error {
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("invalid base URL %q: empty port", raw)
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid base URL %q: port must be between 1 and 65535", raw)
		}
	}
	if AmbiguousPath(u.EscapedPath()) {
		return fmt.Errorf("invalid base URL %q: the path must not hold dot-segments (. or .., in any encoding), encoded slashes or backslashes, backslashes or control characters", raw)
	}
	return nil
}

// Validate checks a rotation period and grace: whole seconds, the period
// at least a minute, neither negative.
func (r Rotation) Validate() error {
	switch {
	case r.Every < 0 || r.Grace < 0:
		return errors.New("rotation period and grace must not be negative")
	case r.Every != 0 && r.Every < time.Minute:
		return fmt.Errorf("rotation period %s is under a minute", r.Every)
	case r.Every%time.Second != 0 || r.Grace%time.Second != 0:
		return errors.New("rotation period and grace must be whole seconds")
	}
	return nil
}
