package caddymodule

import (
	"errors"
	"net/http"
)

// opError is a management operation refused for what it was asked: bad
// input, an unknown id, or a conflict with the store's state. Its message
// never holds a key. The command line prints it with its hint; the admin
// API answers it with status.
type opError struct {
	status int    // the admin API's answer: 400, 404, 409
	msg    string // what is wrong
	hint   string // what to do, on the command line; may be empty
}

func (e *opError) Error() string { return e.msg }

// invalid is a 400 opError.
func invalid(msg string) error { return &opError{status: http.StatusBadRequest, msg: msg} }

// notFound is a 404 opError with a command line hint.
func notFound(msg, hint string) error {
	return &opError{status: http.StatusNotFound, msg: msg, hint: hint}
}

// conflict is a 409 opError with a command line hint.
func conflict(msg, hint string) error {
	return &opError{status: http.StatusConflict, msg: msg, hint: hint}
}

// withHint returns err as the command line shows it: an opError with its
// hint, anything else as it is.
func withHint(err error) error {
	var oe *opError
	if errors.As(err, &oe) && oe.hint != "" {
		return errors.New(oe.msg + ": " + oe.hint)
	}
	return err
}
