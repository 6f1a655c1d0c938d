package manage

import (
	"errors"
	"strings"
)

// Kind is what an Error refuses.
type Kind int

// Kinds of Error; a front end answers each its own way (the admin API
// with 400, 404, 409).
const (
	// Invalid input.
	Invalid Kind = iota + 1
	// NotFound: an unknown key or integration.
	NotFound
	// Conflict with the store's state: already revoked, in use, taken.
	Conflict
)

// Error is an operation refused for what it was asked. Its message never
// holds a key. Front ends phrase it with Message, naming the field at
// fault their way: the command line by its flag, the admin API by its
// JSON field.
type Error struct {
	Kind Kind
	// Field is the input at fault, by its JSON name ("name",
	// "integration", "expires_in", "grace", "base_url", "rotate_every",
	// "rotate_grace", "id"); empty when no single one is.
	Field string
	// Missing says the field was not given.
	Missing bool
	// Problem says what is wrong. With a Field and not Prose, it reads
	// after the field's name: `"soon": want ...` or `longer than 200
	// characters`; otherwise it is the whole message.
	Problem string
	// Prose says Problem names what is wrong in words of its own
	// ("invalid base URL ..."), whatever the front end calls the field.
	Prose bool
	// Hint says what to do, in the command line's words; may be empty.
	Hint string
}

// Message phrases the error naming its field as name.
func (e *Error) Message(name string) string {
	if e.Field == "" || e.Prose {
		return e.Problem
	}
	msg := "invalid " + name
	if e.Missing {
		msg = "missing " + name
	}
	switch {
	case e.Problem == "":
		return msg
	case strings.HasPrefix(e.Problem, `"`):
		return msg + " " + e.Problem
	}
	return msg + ": " + e.Problem
}

// Error phrases the error with the field's JSON name.
func (e *Error) Error() string { return e.Message(e.Field) }

// invalidField is an Invalid Error about field.
func invalidField(field, problem string) error {
	return &Error{Kind: Invalid, Field: field, Problem: problem}
}

// missingField is an Invalid Error for a field not given; problem may
// say what it is for.
func missingField(field, problem string) error {
	return &Error{Kind: Invalid, Field: field, Missing: true, Problem: problem}
}

// invalidProse is an Invalid Error about field whose problem says it all.
func invalidProse(field, problem string) error {
	return &Error{Kind: Invalid, Field: field, Problem: problem, Prose: true}
}

// notFound is a NotFound Error with a command line hint.
func notFound(msg, hint string) error { return &Error{Kind: NotFound, Problem: msg, Hint: hint} }

// conflict is a Conflict Error with a command line hint.
func conflict(msg, hint string) error { return &Error{Kind: Conflict, Problem: msg, Hint: hint} }

// AsError returns err's Error, if it is or wraps one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
