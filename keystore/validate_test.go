package keystore

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckVisible(t *testing.T) {
	for _, ok := range []string{"ci runner", "Zoë's laptop", "東京", "deploy-bot #2", "émoji 🚀", "a\u0301"} {
		if err := CheckVisible(ok); err != nil {
			t.Errorf("CheckVisible(%q) = %v, want nil", ok, err)
		}
	}
	for _, r := range []rune{
		'\t', '\n', 0x7f, 0x85, // control
		0x00ad, 0x061c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, // format
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
		0x2066, 0x2067, 0x2068, 0x2069, 0xfeff, 0xfff9, 0xe0001, 0xe0041,
		0x00a0, 0x2028, 0x2029, 0x3000, // other spaces and separators
		0xe000, 0xf0000, // private use
		0x0378,                                         // unassigned
		0x034f, 0x115f, 0x1160, 0x3164, 0xffa0, 0x2800, // blank letters and marks
	} {
		name := "ali" + string(r) + "ce"
		err := CheckVisible(name)
		if want := fmt.Sprintf("holds %U, an invisible or control character, at byte 3", r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckVisible(%q) = %v, want an error with %q", name, err, want)
		}
		k := NewKey{Key: Key{ID: "kid_0123456789abcdefghij", Name: name}, Hash: Hash{1}}
		if err := k.Validate(); err == nil {
			t.Errorf("NewKey{Name: %q}.Validate() = nil, want an error", name)
		}
	}
}
