package token

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keygate/keygate/keystore"
)

// Ed25519 is the fully-specified JOSE algorithm name for Ed25519 (RFC
// 9864), which go-jose does not know yet: tokens may carry it or EdDSA.
const Ed25519 = jose.SignatureAlgorithm("Ed25519")

// algorithms are the only JWS algorithms a token may name: none, HMAC and
// every other algorithm are refused before any key is looked at.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, Ed25519}

// KeySet is one snapshot of the signing keys: the public keys to verify
// tokens with and, when this gateway can open one, the key to sign with.
type KeySet struct {
	byKID map[string]verifyKey
	// public is every key, newest first, for the JWKS.
	public []jose.JSONWebKey
	signer *signKey
	issuer string
	maxTTL time.Duration
}

type verifyKey struct {
	pub   ed25519.PublicKey
	until time.Time
}

type signKey struct {
	kid   string
	priv  ed25519.PrivateKey
	until time.Time
	jose  jose.Signer
}

// SetConfig is what a KeySet needs besides the keys.
type SetConfig struct {
	// Issuer is the iss claim minted and required; DefaultIssuer when empty.
	Issuer string
	// MaxTTL bounds a token's lifetime; DefaultMaxTTL when zero.
	MaxTTL time.Duration
	// Secret opens sealed private keys.
	Secret []byte
	// PublishDelay is how long after its creation a key is first signed
	// with, so that every gateway has loaded it by then; a newer key is
	// preferred once it has passed.
	PublishDelay time.Duration
}

func (c SetConfig) withDefaults() SetConfig {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	return c
}

// NewKeySet builds the set of keys (by generation, oldest first) as of
// now. Keys that fail to decode are left out; the error reports the first
// (a sealed key this gateway cannot open is still used to verify).
func NewKeySet(keys []keystore.SigningKey, cfg SetConfig, now time.Time) (*KeySet, error) {
	cfg = cfg.withDefaults()
	s := &KeySet{byKID: make(map[string]verifyKey, len(keys)), issuer: cfg.Issuer, maxTTL: cfg.MaxTTL}
	var firstErr error
	var fallback *signKey
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if !now.Before(k.VerifyUntil) {
			continue
		}
		if len(k.PublicKey) != ed25519.PublicKeySize || k.KID == "" {
			firstErr = cmp(firstErr, fmt.Errorf("signing key %q: bad public key", k.KID))
			continue
		}
		pub := ed25519.PublicKey(k.PublicKey)
		s.byKID[k.KID] = verifyKey{pub: pub, until: k.VerifyUntil}
		s.public = append(s.public, jose.JSONWebKey{Key: pub, KeyID: k.KID, Algorithm: string(jose.EdDSA), Use: "sig"})
		if s.signer != nil || !now.Before(k.SignUntil) {
			continue
		}
		priv, err := OpenPrivateKey(cfg.Secret, k.KID, k.PrivateKey)
		if err != nil {
			firstErr = cmp(firstErr, fmt.Errorf("signing key %q: %w", k.KID, err))
			continue
		}
		sk, err := newSignKey(k.KID, priv, k.SignUntil)
		if err != nil {
			return nil, err
		}
		if now.Before(k.CreatedAt.Add(cfg.PublishDelay)) {
			if fallback == nil {
				fallback = sk // too new for other gateways yet
			}
			continue
		}
		s.signer = sk
	}
	if s.signer == nil {
		s.signer = fallback
	}
	return s, firstErr
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func newSignKey(kid string, priv ed25519.PrivateKey, until time.Time) (*signKey, error) {
	opts := (&jose.SignerOptions{}).WithType(Type).WithHeader(jose.HeaderKey("kid"), kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, opts)
	if err != nil {
		return nil, fmt.Errorf("creating signer: %w", err)
	}
	return &signKey{kid: kid, priv: priv, until: until, jose: signer}, nil
}

// ErrNoSigningKey: this gateway has no signing key it can sign with now.
var ErrNoSigningKey = errors.New("no usable signing key")

// CanSign reports whether the set has a key to sign with at now.
func (s *KeySet) CanSign(now time.Time) bool { return s.signer != nil && now.Before(s.signer.until) }

// Mint returns a token for the key keyID of integration, living ttl
// (bounded by the set's MaxTTL) from now, with the given token id.
func (s *KeySet) Mint(keyID, integration, jti string, ttl time.Duration, now time.Time) (string, Claims, error) {
	if !s.CanSign(now) {
		return "", Claims{}, ErrNoSigningKey
	}
	ttl = min(ttl, s.maxTTL)
	if ttl < time.Second {
		return "", Claims{}, fmt.Errorf("token lifetime %s is under a second", ttl)
	}
	c := Claims{
		Issuer: s.issuer, Subject: keyID, ClientID: keyID, Integration: integration,
		IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(), ID: jti,
	}
	raw, err := jwt.Signed(s.signer.jose).Claims(c).Serialize()
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing token: %w", err)
	}
	return Prefix + raw, c, nil
}

// Verify checks the token's form, header, signature and claims at now,
// without I/O, and returns its claims. It refuses any algorithm but EdDSA
// and Ed25519, a typ other than at+jwt, a kid not in the set (unknown, or
// rolled out), claims keygate would not have written, and expired tokens;
// an expired token's claims come with ErrExpired, for the log.
func (s *KeySet) Verify(raw string, now time.Time) (Claims, error) {
	c, _, err := s.verify(raw, now)
	return c, err
}

// verify is Verify that also returns the kid of the key that verified.
func (s *KeySet) verify(raw string, now time.Time) (Claims, string, error) {
	if len(raw) > MaxLen || !IsToken(raw) || strings.Count(raw, ".") != 2 {
		return Claims{}, "", ErrMalformed
	}
	compact := raw[len(Prefix):]
	jws, err := jose.ParseSignedCompact(compact, algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return Claims{}, "", ErrMalformed
	}
	sig := jws.Signatures[0]
	h := sig.Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return Claims{}, "", ErrMalformed
	}
	if h.JSONWebKey != nil || len(sig.Unprotected.ExtraHeaders) > 0 || sig.Unprotected.KeyID != "" {
		return Claims{}, "", ErrMalformed
	}
	k, ok := s.byKID[h.KeyID]
	if !ok || !now.Before(k.until) {
		return Claims{}, "", ErrUnknownSigningKey
	}
	var payload []byte
	switch jose.SignatureAlgorithm(h.Algorithm) {
	case jose.EdDSA:
		if payload, err = jws.Verify(k.pub); err != nil {
			return Claims{}, "", ErrBadSignature
		}
	case Ed25519: // the same algorithm under its RFC 9864 name
		input := compact[:strings.LastIndexByte(compact, '.')]
		if !ed25519.Verify(k.pub, []byte(input), sig.Signature) {
			return Claims{}, "", ErrBadSignature
		}
		payload = jws.UnsafePayloadWithoutVerification()
	default:
		return Claims{}, "", ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, "", ErrBadClaims
	}
	if err := c.check(s.issuer, s.maxTTL, now); err != nil {
		if errors.Is(err, ErrExpired) {
			return c, h.KeyID, err // well-formed and signed: whose it was may be logged
		}
		return Claims{}, "", err
	}
	if c.ExpiresAt().After(k.until) {
		return Claims{}, "", ErrBadClaims
	}
	return c, h.KeyID, nil
}

// JWKS returns the public keys as an RFC 7517 JSON Web Key Set.
func (s *KeySet) JWKS() ([]byte, error) {
	keys := s.public
	if keys == nil {
		keys = []jose.JSONWebKey{}
	}
	return json.Marshal(jose.JSONWebKeySet{Keys: keys})
}
