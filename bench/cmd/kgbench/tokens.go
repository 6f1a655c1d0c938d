package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// exchange gets an access token for k at the token endpoint tokenURL, as
// an OAuth 2.0 client credentials client does.
func exchange(tokenURL string, k createdKey) (string, error) {
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(k.ID, k.Key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK || answer.AccessToken == "" {
		return "", fmt.Errorf("getting an access token: status %d (%v)", resp.StatusCode, err)
	}
	return answer.AccessToken, nil
}

// forgedTokens returns n tokens that claim what tok claims, with its
// header (so its signing key's kid), and a random signature each: every
// one costs the gateway a signature check, which fails.
func forgedTokens(tok string, n int) ([]string, error) {
	signed := tok[:strings.LastIndexByte(tok, '.')+1]
	out := make([]string, n)
	sig := make([]byte, 64)
	for i := range out {
		if _, err := rand.Read(sig); err != nil {
			return nil, err
		}
		out[i] = signed + base64.RawURLEncoding.EncodeToString(sig)
	}
	return out, nil
}
