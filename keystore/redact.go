package keystore

import (
	"net/url"
	"regexp"
	"strings"
)

// Errors of a store's driver may quote its URL, password included: every
// error that may hold one goes through Redact before anyone reads it.

// Redacted stands for a password in messages.
const Redacted = "xxxxx"

// keywordPassword finds password=... in key=value connection strings.
var keywordPassword = regexp.MustCompile(`(?i)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns err with every occurrence of databaseURL's password
// replaced, wherever a driver may have quoted it.
func Redact(err error, databaseURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var secrets []string
	if u, perr := url.Parse(databaseURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		if pw := u.Query().Get("password"); pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(databaseURL, -1) {
		secrets = append(secrets, m[1], strings.Trim(m[1], "'"))
	}
	if len(secrets) == 0 {
		return err
	}
	for _, s := range secrets {
		msg = replaceDelimited(msg, s, Redacted)
	}
	return &redactedError{msg: msg, err: err}
}

// replaceDelimited replaces every occurrence of old in s. An old shorter
// than 8 bytes is only replaced where it is not part of a longer run of
// letters and digits, so that a short password does not garble the words of
// the message around it.
func replaceDelimited(s, old, repl string) string {
	if old == "" {
		return s
	}
	if len(old) >= 8 {
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		before, after := i > 0 && isAlnum(s[i-1]) && isAlnum(old[0]),
			end < len(s) && isAlnum(s[end]) && isAlnum(old[len(old)-1])
		b.WriteString(s[:i])
		if before || after {
			b.WriteString(old)
		} else {
			b.WriteString(repl)
		}
		s = s[end:]
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// redactedError is an error whose message had secrets removed; it still
// wraps the original for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
