package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// duplicateField returns the first member name that appears twice in one
// JSON object of data, at any depth, compared as encoding/json matches
// names to struct fields (case-insensitively), and whether there is one.
// encoding/json keeps the last of duplicated members without a word, so a
// body such as {"name":"a","name":"b"} would mean what its last member
// says while a reviewer reads the first. data that is not JSON reports no
// duplicate: the decoder that runs next says what is wrong with it.
func duplicateField(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	name, err := scanValue(dec)
	return name, err == errDuplicate
}

// errDuplicate stops the scan at a duplicated member.
var errDuplicate = errors.New("duplicated member")

// scanValue reads one JSON value from dec, returning the name of the first
// duplicated member of any object in it with errDuplicate.
func scanValue(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return "", err
			}
			name, _ := tok.(string)
			k := strings.ToLower(name)
			if seen[k] {
				return name, errDuplicate
			}
			seen[k] = true
			if name, err := scanValue(dec); err != nil {
				return name, err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if name, err := scanValue(dec); err != nil {
				return name, err
			}
		}
		_, err = dec.Token() // ']'
	}
	return "", err
}
