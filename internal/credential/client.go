package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Client talks to one keygate endpoint with a key.
type Client struct {
	// HTTP is the client to use (it never follows redirects); a zero
	// http.Client when nil.
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
	hc := http.Client{}
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	// A redirect is answered, not followed: the key goes to URL alone.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.URL, err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return fmt.Errorf("%s %s: %s to %s: the key is not sent on; give the endpoint's own URL", method, c.URL, resp.Status, loc)
	}
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

// CheckURL refuses an endpoint URL that is not http(s)://host/…, or that
// would send the key in the clear to another machine: plain http is for
// loopback addresses alone (127.0.0.0/8, ::1, localhost).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("want https://host[:port]/path")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); (err == nil && ip.Unmap().IsLoopback()) || strings.EqualFold(host, "localhost") {
		return nil
	}
	return fmt.Errorf("plain http would send the key in the clear to %s: use https (plain http is for 127.0.0.1, ::1 and localhost)", host)
}
