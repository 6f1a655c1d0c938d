package gateway

import (
	"context"

	"github.com/keygate/keygate/keystore"
)

// accessKey is the long-lived Access Key, `<prefix>_<secret><checksum>`,
// looked up by its hash.
type accessKey struct{}

// claims every credential: access keys are the last kind tried.
func (accessKey) claims(*Authenticator, string) bool { return true }

// verify checks the key's form before any cache or store work, so that a
// malformed key costs no lookup.
func (accessKey) verify(ctx context.Context, a *Authenticator, rt *Runtime, credential string, cachedOnly bool) (keystore.Credential, error) {
	hash, err := keystore.ParseKey(a.KeyPrefix, credential)
	if err != nil {
		return keystore.Credential{}, err
	}
	return rt.verify(ctx, hash, cachedOnly)
}
