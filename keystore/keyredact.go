package keystore

import "hash/crc32"

// RedactedKey replaces, in what RedactKeys returns, each run of characters
// that may belong to a key.
const RedactedKey = "REDACTED"

// What RedactKeys redacts, and how much of a text it looks at.
const (
	// RedactMinRun is the shortest run of key characters (base62) that is
	// redacted wherever it stands: a piece of a key shorter than this
	// leaves more than 160 of its 256 bits unknown. Shorter runs are
	// ordinary words and numbers, which the log needs.
	RedactMinRun = 16
	// RedactMaxLen bounds the text RedactKeys looks at and returns; what
	// is longer is cut there and ends with "…". It bounds the work a
	// refused request can cause, however long its URI.
	RedactMaxLen = 4096
	// redactPasses bounds the rounds of percent-decoding: %25 encodes a
	// '%', so %2525%36%42 is "k" after three.
	redactPasses = 8
)

// RedactKeys returns s, a request URI or host, with anything that may be a
// key with this prefix, or a piece of one, replaced by RedactedKey, however
// it is percent-encoded (once, several times over, or partly). It looks
// at s as if it were percent-decoded until nothing changes, and redacts,
// in s itself:
//
//   - every run of RedactMinRun or more base62 characters, with or
//     without the `<prefix>_` before it: a key, a bare secret, or a long
//     piece of one;
//   - every run that holds part of a whole key split into shorter pieces
//     by other characters (`/`, `-`, `&name=`, ...): the base62
//     characters from the start of a run on, query parameter names left
//     out, that carry a valid key checksum.
//
// A key whose pieces are shorter than RedactMinRun and interleaved with
// other letters or digits (but query parameter names) is not recognised. The cost is one scan of s
// when it holds no '%' and no long run; s is cut to RedactMaxLen first.
func RedactKeys(s, prefix string) string {
	if len(s) > RedactMaxLen {
		s = s[:RedactMaxLen] + "…"
	}
	if !mayHoldKey(s) {
		return s
	}
	v := decodeView(s)
	runs := v.runs()
	marked := make([]bool, len(runs))
	for i, r := range runs {
		if r.n >= RedactMinRun {
			marked[i] = true
		}
	}
	v.markSplitKeys(runs, marked, prefix)
	return v.redact(s, runs, marked)
}

// mayHoldKey reports whether s may hold a key or a piece of one worth
// redacting: it has a '%', a long run of base62, or enough base62 in all
// for a whole key.
func mayHoldKey(s string) bool {
	run, total := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			return true
		case isBase62[c]:
			run++
			total++
			if run >= RedactMinRun || total >= secretLen+checksumLen {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

// view is s percent-decoded: byte i of the decoded text is b[i], and
// stands for s[from[i]:to[i]].
type view struct {
	b        []byte
	from, to []int32
}

// decodeView percent-decodes s until nothing changes, or redactPasses
// times.
func decodeView(s string) view {
	v := view{b: []byte(s), from: make([]int32, len(s)), to: make([]int32, len(s))}
	for i := range s {
		v.from[i], v.to[i] = int32(i), int32(i+1)
	}
	for range redactPasses {
		if !v.decodeOnce() {
			break
		}
	}
	return v
}

// decodeOnce decodes each %XX of v in place, and reports whether there
// was one.
func (v *view) decodeOnce() bool {
	w, changed := 0, false
	for r := 0; r < len(v.b); w++ {
		if v.b[r] == '%' && r+2 < len(v.b) && isHex(v.b[r+1]) && isHex(v.b[r+2]) {
			v.b[w] = unhex(v.b[r+1])<<4 | unhex(v.b[r+2])
			v.from[w], v.to[w] = v.from[r], v.to[r+2]
			r += 3
			changed = true
			continue
		}
		v.b[w], v.from[w], v.to[w] = v.b[r], v.from[r], v.to[r]
		r++
	}
	v.b, v.from, v.to = v.b[:w], v.from[:w], v.to[:w]
	return changed
}

// run is a maximal run of base62 bytes of a view: b[at:at+n]. name: it
// is followed by '=', as a query parameter's name is.
type run struct {
	at, n int
	name  bool
}

func (v *view) runs() []run {
	var runs []run
	for i := 0; i < len(v.b); {
		if !isBase62[v.b[i]] {
			i++
			continue
		}
		j := i
		for j < len(v.b) && isBase62[v.b[j]] {
			j++
		}
		runs = append(runs, run{at: i, n: j - i, name: j < len(v.b) && v.b[j] == '='})
		i = j
	}
	return runs
}

// markSplitKeys marks every run that holds part of a whole key whose
// secret starts a run and whose pieces are the runs that follow, query
// parameter names left out: the key's characters, with the separators
// between runs skipped, carry its checksum.
func (v *view) markSplitKeys(runs []run, marked []bool, prefix string) {
	const keyLen = secretLen + checksumLen
	var chars [keyLen]byte
	seed := crc32.Update(0, crc32.IEEETable, []byte(prefix+"_"))
	for first := range runs {
		if runs[first].name {
			continue
		}
		n, last := 0, first
		for last < len(runs) && n < keyLen {
			if r := runs[last]; !r.name {
				n += copy(chars[n:], v.b[r.at:r.at+r.n])
			}
			last++
		}
		if n < keyLen {
			return // not enough base62 left for a key
		}
		if checksumOf(crc32.Update(seed, crc32.IEEETable, chars[:secretLen])) == [checksumLen]byte(chars[secretLen:]) {
			for i := first; i < last; i++ {
				marked[i] = marked[i] || !runs[i].name
			}
		}
	}
}

// checksumOf is checksum's base62 form of a CRC32.
func checksumOf(crc uint32) [checksumLen]byte {
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[crc%62]
		crc /= 62
	}
	return out
}

// redact returns s with the text that each marked run stands for
// replaced by RedactedKey.
func (v *view) redact(s string, runs []run, marked []bool) string {
	out := make([]byte, 0, len(s))
	at := 0
	for i, r := range runs {
		if !marked[i] {
			continue
		}
		from, to := int(v.from[r.at]), int(v.to[r.at+r.n-1])
		out = append(out, s[at:from]...)
		out = append(out, RedactedKey...)
		at = to
	}
	if at == 0 {
		return s
	}
	return string(append(out, s[at:]...))
}
