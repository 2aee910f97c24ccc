// Package pgtest runs a throwaway PostgreSQL cluster for tests and asks it how it writes values
// as JSON: for each of a list of cases, the value the Realtime server would send for it (PostgreSQL's
// to_jsonb of the value) and reference forms of the same value (its text output, epoch, hex,
// range bounds, array dimensions) from which a test derives the Go value it expects.
//
// The cluster is created with initdb in a temporary directory and listens on a unix socket only.
// initdb and postgres refuse to run as root, so when the test runs as root they run as the
// postgres user (or nobody). The PostgreSQL server binaries are found in $PGTEST_BIN,
// /usr/lib/postgresql/15/bin, the directory pg_config reports, or on PATH; a test fails, rather
// than skips, when they are missing.
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallHint says how to get the server binaries.
const InstallHint = "install PostgreSQL 15 (Debian/Ubuntu: apt-get install -y postgresql-15, " +
	"or apt-get install -y postgresql on Debian 12) or set PGTEST_BIN to the directory holding " +
	"initdb, postgres and psql"

// Cluster is a running PostgreSQL server that only this test process uses.
type Cluster struct {
	dir     string // holds data/ and the socket
	bin     string // the directory of initdb and postgres
	psql    string
	Version string // the server's version line
}

// findBin returns the directory of initdb and postgres.
func findBin() (string, error) {
	var dirs []string
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, "/usr/lib/postgresql/15/bin")
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a cluster; it is stopped and removed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		t.Fatalf("%v: %s", err, InstallHint)
	}
	psql := filepath.Join(bin, "psql")
	if !isExec(psql) {
		if psql, err = exec.LookPath("psql"); err != nil {
			t.Fatalf("psql not found: %s", InstallHint)
		}
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	attr, err := procAttr(dir)
	if err != nil {
		t.Fatalf("running PostgreSQL as an unprivileged user: %v", err)
	}
	c := &Cluster{dir: dir, bin: bin, psql: psql}
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		t.Fatalf("postgres --version: %v: %s", err, InstallHint)
	}
	c.Version = strings.TrimSpace(string(out))

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir, initdb.SysProcAttr, initdb.Env = dir, attr, env()
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-k", dir, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=5", "-c", "shared_buffers=16MB",
		"-c", "logging_collector=off")
	log := &readyWriter{ready: make(chan struct{})}
	srv.Dir, srv.SysProcAttr, srv.Env, srv.Stdout, srv.Stderr = dir, attr, env(), log, log
	if err := srv.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt) // fast shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	select {
	case <-log.ready:
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("postgres exited: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("postgres did not start in 60s:\n%s", log.String())
	}
	return c
}

// env is the environment of the server processes.
func env() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
}

// unprivileged returns the user to run the server as when this process is root.
func unprivileged() (uid, gid uint32, err error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil && uid != 0 {
			return uint32(uid), uint32(gid), nil
		}
	}
	return 0, 0, errors.New("no postgres or nobody user")
}

// readyWriter collects the server's log and closes ready when it accepts connections.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte("ready to accept connections")) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Exec runs an SQL script with psql (stopping at the first error) and returns what it printed:
// unaligned, tuples only, one line per row.
func (c *Cluster) Exec(t testing.TB, script string) string {
	t.Helper()
	cmd := exec.Command(c.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", c.dir, "-U", "postgres", "-d", "postgres", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(env(), "PGCLIENTENCODING=UTF8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// String describes the cluster.
func (c *Cluster) String() string { return fmt.Sprintf("%s in %s", c.Version, c.dir) }
