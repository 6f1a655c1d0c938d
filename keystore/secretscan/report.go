package secretscan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Match is one leaked token a partner reports. GitLab sends no source.
type Match struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// ErrTooManyTokens: a report with more matches than allowed.
var ErrTooManyTokens = errors.New("too many tokens in one report")

// ParseReport reads a report's body, already verified: a JSON array of
// matches, at most maxTokens of them. Unknown fields are ignored, so that
// a partner may add some; anything else than one array of objects whose
// fields are strings is an error, which never quotes the body.
func ParseReport(body []byte, maxTokens int) ([]Match, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, errors.New("malformed report: want a JSON array of {token, type, url, source}")
	}
	matches := []Match{}
	for dec.More() {
		if len(matches) == maxTokens {
			return nil, fmt.Errorf("%w: at most %d", ErrTooManyTokens, maxTokens)
		}
		var m Match
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("malformed report: match %d: %s", len(matches), jsonProblem(err))
		}
		matches = append(matches, m)
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("malformed report: unterminated array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("malformed report: data after the array")
	}
	return matches, nil
}

// jsonProblem says what is wrong with a match without quoting it: the
// decoder's syntax errors may hold part of a token.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field != "" {
			return fmt.Sprintf("field %q must be a string", typeErr.Field)
		}
		return "want an object of strings"
	}
	return "invalid JSON"
}

// Labels of the feedback.
const (
	TruePositive  = "true_positive"
	FalsePositive = "false_positive"
)

// Feedback is what the endpoint answers about one match, in the shape of
// GitHub's partner feedback: the token only as its hex SHA-256.
type Feedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// TokenHash is the hex SHA-256 of a token, as feedback and logs name it.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
