package keystore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedactRemovesPasswords(t *testing.T) {
	cases := []struct {
		url, msg, secret string
	}{
		{"postgres://u:hunter2-long@db:5432/k", "dial postgres://u:hunter2-long@db:5432/k: refused", "hunter2-long"},
		{"postgres://u:p%40ss%2Fw@db/k", "auth failed for p@ss/w and p%40ss%2Fw", "p@ss/w"},
		{"postgres://u:ab@db/k", "user=u password=ab host=db", "password=ab "},
		{"postgres://u@db/k?password=qs-secret-1", "cannot parse password=qs-secret-1", "qs-secret-1"},
		{"host=db user=u password=kw-secret-9 dbname=k", "failed: password=kw-secret-9", "kw-secret-9"},
		{"host=db password='quoted secret' dbname=k", "failed: password='quoted secret'", "quoted secret"},
	}
	for _, c := range cases {
		err := Redact(errors.New(c.msg), c.url)
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("Redact(%q) for %q = %q: still holds the password", c.msg, c.url, err)
		}
		if !strings.Contains(err.Error(), Redacted) {
			t.Errorf("Redact(%q) for %q = %q: want %q in its place", c.msg, c.url, err, Redacted)
		}
	}
}

func TestRedactKeepsWordsAndWrapping(t *testing.T) {
	base := fmt.Errorf("listing keys: %w", ErrStoreUnavailable)
	err := Redact(base, "postgres://u:a@db/k")
	if got, want := err.Error(), base.Error(); got != want {
		t.Errorf("a one-letter password garbled the message: %q, want %q", got, want)
	}
	if !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("redact lost the wrapped error: %v", err)
	}
	if err := Redact(base, "postgres://u@db/k"); err != base {
		t.Errorf("redact without a password = %v, want the error unchanged", err)
	}
}
