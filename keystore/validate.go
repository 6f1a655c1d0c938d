package keystore

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxKeyNameLen bounds a key name, in bytes.
const MaxKeyNameLen = 200

// Validate checks what a store's schema cannot: the shape of the id, a
// printable name of at most MaxKeyNameLen bytes, and a hash. Every Store
// calls it before writing a key.
func (k NewKey) Validate() error {
	switch {
	case !ValidKeyID(k.ID):
		return fmt.Errorf("invalid key id %q", k.ID)
	case k.Name == "":
		return errors.New("the key name is empty")
	case len(k.Name) > MaxKeyNameLen:
		return fmt.Errorf("the key name is longer than %d bytes", MaxKeyNameLen)
	case !utf8.ValidString(k.Name):
		return errors.New("the key name is not valid UTF-8")
	case k.Hash == Hash{}:
		return errors.New("the key hash is missing")
	}
	if err := CheckVisible(k.Name); err != nil {
		return fmt.Errorf("the key name %w", err)
	}
	return nil
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
	in.BaseURL = u.String()
	return in, nil
}

// ValidateForRotation checks what Validate does but the name, which a
// rotated key takes from the key it replaces.
func (k NewKey) ValidateForRotation() error {
	k.Name = "rotated"
	return k.Validate()
}
