package keystore

import (
	"errors"
	"fmt"
	"time"
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
	if err := (Rotation{Every: k.RotateEvery}).Validate(); err != nil {
		return err
	}
	for _, r := range k.Name {
		if unicode.IsControl(r) {
			return fmt.Errorf("the key name %q holds a control character", k.Name)
		}
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
