package keystore

import (
	"errors"
	"fmt"
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
// characters, no control character. Its error (ErrMissing for a blank
// name) reads after the name of the field, as in "invalid --name: ...".
func CheckKeyName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return ErrMissing
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxKeyNameLen:
		return fmt.Errorf("longer than %d characters", MaxKeyNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("control characters (tabs, newlines, ...) are not allowed")
	}
	return nil
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
