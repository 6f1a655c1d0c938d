package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to one keygate endpoint with a key.
type Client struct {
	// HTTP is the client to use; http.DefaultClient when nil.
	HTTP *http.Client
	// URL is the endpoint: a keygate_rotate route for Rotate, a
	// keygate_token route for Token.
	URL string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (c Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// maxAnswerBytes bounds what is read of an answer.
const maxAnswerBytes = 64 << 10

// do sends a request with the key as Bearer credentials and decodes a 200
// answer's JSON into out. Any other answer is an error that quotes the
// gateway's error field, never the key.
func (c Client) do(ctx context.Context, method, key, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.URL, body)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", c.URL, err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(http.StatusText(resp.StatusCode))
		}
		return fmt.Errorf("%s %s: %s (%s)", method, c.URL, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not keygate's JSON: %w", method, c.URL, err)
	}
	return nil
}
