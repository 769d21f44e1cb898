package testrig

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EtcdPath is the etcd server of the Debian etcd-server package (3.4).
// $ETHERVPN_ETCD overrides it.
const EtcdPath = "/usr/bin/etcd"

// EtcdPackage is the Debian package that provides EtcdPath (installed by
// scripts/test-all.sh, never by tests).
const EtcdPackage = "etcd-server"

func etcdPath() string {
	if p := os.Getenv("ETHERVPN_ETCD"); p != "" {
		return p
	}
	return EtcdPath
}

// RequireEtcd is Require plus the real etcd server, for the farm tests: it
// skips the test naming what is missing, or fails it when CI=true.
func RequireEtcd(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(etcdPath()); err != nil {
		msg := "the farm e2e tests need the real etcd (" + etcdPath() + "; run scripts/test-all.sh as root; it installs " + EtcdPackage + ")"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s", msg)
		}
		t.Skipf("%s", msg)
	}
}

// Etcd is a real etcd server (one member of a cluster, maybe the only
// one) running in a rig namespace, with its data directory in the rig.
// Stop and Start keep the data, as a restarted etcd would.
type Etcd struct {
	// URL is the client URL ("http://IP:2379"), for ethervpn's --farm.
	URL     string
	DataDir string
	Proc    *Proc
	name    string
	cluster string // --initial-cluster
	ip      string
	ns      *Netns
	rig     *Rig
	starts  int
}

// StartEtcd starts a single-member etcd in ns listening on ip (an address
// of ns, see AddServerAddress) and returns once it answers on its client
// port.
func (r *Rig) StartEtcd(ns *Netns, ip string) *Etcd {
	r.t.Helper()
	return r.StartEtcdCluster(ns, ip)[0]
}

// StartEtcdCluster starts an etcd cluster of one member per address in
// ns, members m1, m2, ... in the order of ips.
func (r *Rig) StartEtcdCluster(ns *Netns, ips ...string) []*Etcd {
	r.t.Helper()
	if _, err := exec.LookPath(etcdPath()); err != nil {
		r.t.Fatalf("testrig: %v (Debian package %s)", err, EtcdPackage)
	}
	var peers []string
	for i, ip := range ips {
		peers = append(peers, fmt.Sprintf("m%d=http://%s:2380", i+1, ip))
	}
	var es []*Etcd
	for i, ip := range ips {
		name := fmt.Sprintf("m%d", i+1)
		e := &Etcd{URL: "http://" + ip + ":2379", DataDir: filepath.Join(ns.Dir, "etcd-"+name), name: name,
			cluster: strings.Join(peers, ","), ip: ip, ns: ns, rig: r}
		e.launch()
		es = append(es, e)
	}
	for _, e := range es {
		e.wait()
	}
	return es
}

// Start (re)starts the etcd process on its data directory.
func (e *Etcd) Start() {
	e.rig.t.Helper()
	e.launch()
	e.wait()
}

func (e *Etcd) launch() {
	e.starts++
	peer := "http://" + e.ip + ":2380"
	args := e.ns.Cmd(etcdPath(), "--name", e.name, "--data-dir", e.DataDir,
		"--listen-client-urls", e.URL, "--advertise-client-urls", e.URL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", e.cluster, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn")
	e.Proc = StartProc(e.rig.t, "etcd "+e.name, filepath.Join(e.ns.Dir, fmt.Sprintf("etcd-%s-%d.log", e.name, e.starts)), args...)
	e.Proc.StopGrace = 10 * time.Second
}

// wait returns once etcd accepts connections on its client port.
func (e *Etcd) wait() {
	r := e.rig
	r.t.Helper()
	if err := e.ns.WaitTCP(e.ip, 2379, 30*time.Second, e.Proc); err != nil {
		r.t.Fatalf("testrig: etcd %s did not start: %v; log: %s", e.name, err, lastLines(e.Proc.Log(), 10))
	}
	r.t.Logf("testrig: etcd %s up in %s at %s (pid %d)", e.name, e.ns.Name, e.URL, e.Proc.Pid())
}

// Stop stops etcd (SIGTERM); Start brings it back with its data.
func (e *Etcd) Stop() error { return e.Proc.Stop(e.Proc.StopGrace) }

// AddServerAddress adds ip (IPv4, as a /32 on the loopback device) to the
// server namespace and a route to it in every client namespace, existing
// and future: an address all clients reach, for example the address of one
// of several servers in the server namespace.
func (r *Rig) AddServerAddress(ip string) {
	r.t.Helper()
	r.must("ip", "-n", r.Server.Name, "addr", "add", ip+"/32", "dev", "lo")
	r.serverAddrs = append(r.serverAddrs, ip)
	for _, c := range r.clientNs {
		r.must("ip", "-n", c.Name, "route", "add", ip+"/32", "via", c.ServerIP)
	}
}

// Kill ends the process with SIGKILL at once (a crash) and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Logged reports whether the process's output so far contains s.
func (p *Proc) Logged(s string) bool { return strings.Contains(p.Log(), s) }

// Keys returns etcd's keys under prefix and their values, read through
// etcd's JSON gateway (/v3/kv/range) from inside its namespace: what the
// farm left in etcd, for tests to check.
func (e *Etcd) Keys(prefix string) (map[string]string, error) {
	end := []byte(prefix)
	end[len(end)-1]++ // the range [prefix, end) is every key under prefix
	resp, err := e.post("/v3/kv/range", map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString(end),
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Kvs []struct{ Key, Value []byte } // base64 in JSON, as []byte decodes
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("testrig: reading etcd: %s: %v", resp.Status, err)
	}
	keys := map[string]string{}
	for _, kv := range out.Kvs {
		keys[string(kv.Key)] = string(kv.Value)
	}
	return keys, nil
}

// Leader reports whether this member is the cluster's leader.
func (e *Etcd) Leader() (bool, error) {
	resp, err := e.post("/v3/maintenance/status", map[string]string{})
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Header struct {
			MemberID string `json:"member_id"`
		}
		Leader string
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("testrig: etcd status: %s: %v", resp.Status, err)
	}
	return out.Header.MemberID != "" && out.Header.MemberID == out.Leader, nil
}

// post sends a JSON request to etcd's gateway from inside its namespace.
func (e *Etcd) post(path string, req any) (*http.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			derr := e.ns.Do(func() error {
				c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, errors.Join(err, derr)
		}}}
	resp, err := client.Post(e.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("testrig: etcd %s: %w", path, err)
	}
	return resp, nil
}
