package postgres

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/keystore"
)

// maxKeyNameLen bounds a key name, in bytes.
const maxKeyNameLen = 200

// validateKey checks what the schema cannot: the shape of the id, a
// printable name, a hash.
func validateKey(k keystore.NewKey) error {
	switch {
	case !keystore.ValidKeyID(k.ID):
		return fmt.Errorf("invalid key id %q", k.ID)
	case k.Name == "":
		return errors.New("the key name is empty")
	case len(k.Name) > maxKeyNameLen:
		return fmt.Errorf("the key name is longer than %d bytes", maxKeyNameLen)
	case !utf8.ValidString(k.Name):
		return errors.New("the key name is not valid UTF-8")
	case k.Hash == keystore.Hash{}:
		return errors.New("the key hash is missing")
	}
	for _, r := range k.Name {
		if unicode.IsControl(r) {
			return fmt.Errorf("the key name %q holds a control character", k.Name)
		}
	}
	return nil
}
