package cli

import (
	"testing"
)

func TestDescribeDatabaseHidesPassword(t *testing.T) {
	if got := describeDatabase("postgres://u:secret-pw@db:5432/k"); got != " at postgres://u:xxxxx@db:5432/k" {
		t.Errorf("describeDatabase = %q", got)
	}
	if got := describeDatabase("host=db password=secret-pw"); got != "" {
		t.Errorf("describeDatabase of a keyword string = %q, want nothing", got)
	}
}
