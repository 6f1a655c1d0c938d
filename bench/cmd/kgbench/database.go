package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/internal/pgtest"
)

// benchDatabase is the harness's PostgreSQL: a throwaway cluster on a free
// port of 127.0.0.1, removed at the end.
type benchDatabase struct {
	cluster *pgtest.Cluster
	url     string // the keygate database's URL
}

// startDatabase starts the cluster and creates the keygate database.
func startDatabase(ctx context.Context) (*benchDatabase, error) {
	c, err := pgtest.StartCluster()
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	db := &benchDatabase{cluster: c}
	conn, err := pgx.Connect(ctx, c.AdminURL())
	if err != nil {
		c.Remove()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE keygate_bench"); err != nil {
		c.Remove()
		return nil, fmt.Errorf("creating the database: %w", err)
	}
	u, err := url.Parse(c.AdminURL())
	if err != nil {
		c.Remove()
		return nil, err
	}
	u.Path = "/keygate_bench"
	db.url = u.String()
	return db, nil
}

// remove stops the cluster and deletes it.
func (db *benchDatabase) remove() error { return db.cluster.Remove() }

// createdKey is `keygate keys create --json`'s output.
type createdKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// seed registers the bench integration, whose base URL is the upstream,
// and creates keys with the keygate command line (which migrates the
// database first): the legit key of every case, and one never used
// before the cold-start check.
func (db *benchDatabase) seed(ctx context.Context, keygate, upstreamURL string) (legit, cold createdKey, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	env := []string{"KEYGATE_DATABASE_URL=" + db.url}
	if _, err = runCmd(ctx, env, keygate, "integrations", "add", "bench", "--base-url", upstreamURL); err != nil {
		return
	}
	for _, k := range []*createdKey{&legit, &cold} {
		var out string
		if out, err = runCmd(ctx, env, keygate, "keys", "create", "--integration", "bench", "--name", "bench", "--json"); err != nil {
			return
		}
		if err = json.Unmarshal([]byte(out), k); err != nil {
			err = fmt.Errorf("reading keys create's output: %w", err)
			return
		}
	}
	return
}
