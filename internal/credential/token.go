package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// cachedToken is what Token keeps in the key file's token cache, FILE +
// ".token": the token, its lifetime, and the SHA-256 of the key it was
// got with, so that a rolled key never reuses its predecessor's token.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	KeySHA256   string    `json:"key_sha256"`
}

// fresh reports whether t may still be handed out at now: it is for the
// key with this hash, and more than a quarter of its lifetime (and at least
// thirty seconds) remains, so that whoever uses it has time to.
func (t cachedToken) fresh(keyHash string, now time.Time) bool {
	margin := max(t.ExpiresAt.Sub(t.IssuedAt)/4, 30*time.Second)
	return t.AccessToken != "" && t.KeySHA256 == keyHash && now.Before(t.ExpiresAt.Add(-margin))
}

// tokenAnswer is the token endpoint's answer (RFC 6749 5.1).
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Token returns a fresh access token for the key in keyFile: the cached
// one while fresh, else a new one from the token endpoint (client
// credentials, the key as Bearer credentials), cached beside the key file
// with mode 0600.
func (c Client) Token(ctx context.Context, keyFile string) (string, error) {
	unlock, err := Lock(keyFile)
	if err != nil {
		return "", err
	}
	defer unlock()
	key, err := ReadKey(keyFile)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(key))
	keyHash := hex.EncodeToString(sum[:])
	cachePath := keyFile + ".token"
	now := c.now()
	if t, err := readCachedToken(cachePath); err == nil && t.fresh(keyHash, now) {
		return t.AccessToken, nil
	}
	var a tokenAnswer
	body := strings.NewReader("grant_type=client_credentials")
	if err := c.do(ctx, http.MethodPost, key, "application/x-www-form-urlencoded", body, &a); err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	if a.AccessToken == "" || !strings.EqualFold(a.TokenType, "Bearer") || a.ExpiresIn <= 0 {
		return "", errors.New("getting an access token: the answer holds no Bearer token")
	}
	t := cachedToken{AccessToken: a.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Duration(a.ExpiresIn) * time.Second), KeySHA256: keyHash}
	data, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	if err := WriteFileAtomic(cachePath, data); err != nil {
		return "", fmt.Errorf("caching the access token: %w", err)
	}
	return t.AccessToken, nil
}

func readCachedToken(path string) (cachedToken, error) {
	var t cachedToken
	data, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal(data, &t)
}
