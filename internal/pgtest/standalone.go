package pgtest

// StartCluster starts a throwaway cluster outside of any test, for tools
// such as the benchmark harness: initdb and pg_ctl run as the postgres
// user when this process is root, the server listens on a free port of
// 127.0.0.1 only, and a watchdog removes it if this process dies. Call
// Remove when done; Stop and Start are for tests only.
func StartCluster() (*Cluster, error) { return startCluster() }

// Remove stops a cluster that StartCluster started and deletes its
// directory.
func (c *Cluster) Remove() error { return c.remove() }
