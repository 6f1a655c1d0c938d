package gateway

import (
	"context"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
)

// accessToken is the short-lived access token, `kgt_` + a JWT, checked by
// its signature and expiry without a store lookup; its key's state comes
// from the verifier by the key's id, so that revoking the key refuses its
// tokens as soon as the key itself.
type accessToken struct{}

func (accessToken) claims(_ *Authenticator, credential string) bool { return token.IsToken(credential) }

func (accessToken) verify(ctx context.Context, _ *Authenticator, rt *Runtime, credential string, cachedOnly bool) (keystore.Credential, error) {
	return rt.verifyToken(ctx, credential, cachedOnly)
}
