package storetest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/store"
)

// NATSCluster is a JetStream cluster of nodes on loopback, in this process
// (Cluster) or each a process of its own (ProcessCluster). Nodes are named
// n0, n1, ...; node i is index i in every method.
type NATSCluster struct {
	tb    testing.TB
	names []string
	urls  []string
	// In-process nodes, or the processes of a ProcessCluster.
	servers []*server.Server
	procs   []*exec.Cmd
}

// clusterFormTimeout bounds how long the nodes may take to elect a meta
// leader and see each other (289-433 ms measured on a quiet machine; a
// run of the whole suite at twice CI's load, -race -p 4 -count 2, once
// had not formed one after a minute).
const clusterFormTimeout = 2 * time.Minute

// Cluster starts n embedded nats-server nodes with JetStream in this
// process, routed to each other on 127.0.0.1 (built from server.Options,
// no configuration files), and returns once they form a JetStream
// cluster: a meta leader, n peers, every node current. The nodes are shut
// down at cleanup.
func Cluster(tb testing.TB, n int) *NATSCluster {
	tb.Helper()
	c := &NATSCluster{tb: tb}
	ports := freePorts(tb, 2*n)
	routes := routeURLs(ports[n:])
	for i := range n {
		opts := NodeOptions(fmt.Sprintf("n%d", i), tb.TempDir(), ports[i], ports[n+i], routes)
		ns, err := server.NewServer(opts)
		if err != nil {
			tb.Fatalf("cluster node %d: %v", i, err)
		}
		go ns.Start()
		c.servers = append(c.servers, ns)
		c.names = append(c.names, opts.ServerName)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	for deadline := time.Now().Add(clusterFormTimeout); !Formed(c.servers, n); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			for _, s := range c.servers {
				jsz, err := s.Jsz(nil)
				var meta server.MetaClusterInfo
				if err == nil && jsz.Meta != nil {
					meta = *jsz.Meta
				}
				tb.Logf("%s: ready %v, current %v, meta leader %q, size %d, leader %v with %d peers, %v", s.Name(), s.ReadyForConnections(time.Second), s.JetStreamIsCurrent(), meta.Leader, meta.Size, s.JetStreamIsLeader(), len(s.JetStreamClusterPeers()), err)
			}
			tb.Fatalf("the %d nodes formed no JetStream cluster in %s", n, clusterFormTimeout)
		}
	}
	return c
}

// Formed reports whether each of servers sees a JetStream cluster of n
// nodes with a meta leader and is current, and the meta leader among
// them, if any, counts n peers online. Given every node, that is the
// cluster nats-server's own tests wait for; given one (a node process),
// it is that node's view.
func Formed(servers []*server.Server, n int) bool {
	for _, s := range servers {
		// ReadyForConnections returns as soon as the node is ready; a
		// window of 10 ms could pass before it looked, on a loaded machine.
		if !s.ReadyForConnections(time.Second) || !s.JetStreamIsCurrent() {
			return false
		}
		jsz, err := s.Jsz(nil)
		if err != nil || jsz.Meta == nil || jsz.Meta.Leader == "" || jsz.Meta.Size != n {
			return false
		}
		if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) != n {
			return false
		}
	}
	return true
}

// NodeOptions are one cluster node's: client port, cluster port and the
// routes to every node (a route to itself is dropped by the server).
func NodeOptions(name, dir string, port, clusterPort int, routes []*url.URL) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       port,
		NoSigs:     true,
		NoLog:      true,
		JetStream:  true,
		StoreDir:   dir,
		Cluster:    server.ClusterOpts{Name: "indexer-test", Host: "127.0.0.1", Port: clusterPort},
		Routes:     routes,
		// Seconds, not nats-server's two minutes: a node stopped in lame
		// duck mode hands its clients over at once.
		LameDuckDuration:    5 * time.Second,
		LameDuckGracePeriod: time.Second,
		// Pings every 2 s, as Dial's clients: with nats-server's default
		// (2 min), the others kept a frozen node's route, and with it the
		// subscriptions it had before it froze, for minutes; a request
		// to a service that had moved off it went unanswered half the
		// time.
		PingInterval: 2 * time.Second,
		MaxPingsOut:  2,
	}
}

// routeURLs returns the route URLs of the cluster ports.
func routeURLs(ports []int) []*url.URL {
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	return routes
}

// freePorts returns n ports free on 127.0.0.1 a moment ago: routes must
// name every node's cluster port before the nodes start.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// URLs returns the client URLs of every node, comma-separated, as --server
// takes them.
func (c *NATSCluster) URLs() string { return strings.Join(c.urls, ",") }

// URL returns node i's client URL.
func (c *NATSCluster) URL(i int) string { return c.urls[i] }

// Others returns the client URLs of every node but i, comma-separated.
func (c *NATSCluster) Others(i int) string {
	var urls []string
	for j, u := range c.urls {
		if j != i {
			urls = append(urls, u)
		}
	}
	return strings.Join(urls, ",")
}

// OpenLog opens the log on the cluster with replicas, through a
// connection to every node (store.Dial) closed at cleanup.
func (c *NATSCluster) OpenLog(replicas int) *store.Log {
	c.tb.Helper()
	return c.openLog(c.URLs(), replicas)
}

// OpenLogOn opens the log through a connection to urls alone
// (comma-separated; URL, Others), closed at cleanup, keeping the stream's
// replicas: a test reads through the nodes it chooses, as a thawed node's
// stale answers or a lost node's silence require. It waits out an
// election (up to 2 minutes: a loaded machine holds them slowly).
func (c *NATSCluster) OpenLogOn(urls string) *store.Log {
	c.tb.Helper()
	return c.openLog(urls, 0)
}

func (c *NATSCluster) openLog(urls string, replicas int) *store.Log {
	c.tb.Helper()
	ctx := context.Background()
	nc, err := store.Dial(ctx, urls, "test")
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(nc.Close)
	l := &store.Log{Conn: nc, Replicas: replicas}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		err := l.Open(ctx)
		if err == nil {
			return l
		}
		if time.Now().After(deadline) {
			c.tb.Fatal(err)
		}
	}
}

// Name returns node i's server name.
func (c *NATSCluster) Name(i int) string { return c.names[i] }

// StreamLeader returns the node that leads stream, once the stream has a
// leader, asking the cluster through a client connection.
func (c *NATSCluster) StreamLeader(stream string) int {
	c.tb.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.tb.Fatal(err)
	}
	for deadline := time.Now().Add(clusterFormTimeout); ; time.Sleep(10 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := js.Stream(ctx, stream)
		cancel()
		if err == nil {
			if ci := s.CachedInfo().Cluster; ci != nil && ci.Leader != "" {
				for i, name := range c.names {
					if name == ci.Leader {
						return i
					}
				}
			}
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("stream %s has no leader after %s (last error: %v)", stream, clusterFormTimeout, err)
		}
	}
}

// Stop stops node i cleanly: it hands over the leadership of what it leads
// (nats-server's Shutdown steps its Raft groups down first), then exits.
func (c *NATSCluster) Stop(i int) {
	c.tb.Helper()
	if c.servers != nil {
		c.servers[i].Shutdown()
		c.servers[i].WaitForShutdown()
		return
	}
	if err := c.procs[i].Process.Signal(syscall.SIGTERM); err != nil {
		c.tb.Fatal(err)
	}
	c.procs[i].Wait()
}

// Freeze stops node i's process with SIGSTOP: it keeps its sockets open
// and answers nothing, as a hung machine would. A ProcessCluster only;
// Thaw, or the cleanup, continues it.
func (c *NATSCluster) Freeze(i int) {
	c.tb.Helper()
	if c.procs == nil {
		c.tb.Fatal("Freeze needs a ProcessCluster")
	}
	if err := c.procs[i].Process.Signal(syscall.SIGSTOP); err != nil {
		c.tb.Fatal(err)
	}
}

// Thaw continues node i after Freeze.
func (c *NATSCluster) Thaw(i int) {
	c.tb.Helper()
	if err := c.procs[i].Process.Signal(syscall.SIGCONT); err != nil {
		c.tb.Fatal(err)
	}
}

// ProcessCluster is Cluster with each node a process of its own (the
// program in storetest/natsnode, built once), so a test can freeze one
// with SIGSTOP. The processes are continued and killed at cleanup, and
// exit by themselves when the test binary dies (their stdin closes).
func ProcessCluster(tb testing.TB, n int) *NATSCluster {
	tb.Helper()
	bin := natsNode(tb)
	c := &NATSCluster{tb: tb}
	ports := freePorts(tb, 2*n)
	var routes []string
	for _, u := range routeURLs(ports[n:]) {
		routes = append(routes, u.String())
	}
	ready := make(chan error, n)
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		cmd := exec.Command(bin, "-name", name, "-dir", tb.TempDir(), "-port", strconv.Itoa(ports[i]),
			"-cluster-port", strconv.Itoa(ports[n+i]), "-routes", strings.Join(routes, ","), "-peers", strconv.Itoa(n))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Kill()
			stdin.Close()
			cmd.Wait()
		})
		go func() {
			sc := bufio.NewScanner(stdout)
			if sc.Scan() && sc.Text() == "ready" {
				ready <- nil
			} else {
				ready <- fmt.Errorf("node %s: %q %v", name, sc.Text(), sc.Err())
			}
			for sc.Scan() {
			}
		}()
		c.procs = append(c.procs, cmd)
		c.names = append(c.names, name)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	timeout := time.After(clusterFormTimeout)
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				tb.Fatal(err)
			}
		case <-timeout:
			tb.Fatalf("the %d node processes formed no JetStream cluster in %s", n, clusterFormTimeout)
		}
	}
	return c
}

var (
	nodeOnce sync.Once
	nodePath string
	nodeErr  error
)

// natsNode returns the path of the natsnode program, built once per test
// binary.
func natsNode(tb testing.TB) string {
	tb.Helper()
	nodeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "indexer-natsnode")
		if err != nil {
			nodeErr = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		nodePath = filepath.Join(dir, "natsnode")
		cmd := exec.Command("go", "build", "-o", nodePath, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "natsnode")
		if out, err := cmd.CombinedOutput(); err != nil {
			nodeErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if nodeErr != nil {
		tb.Fatalf("build natsnode: %v", nodeErr)
	}
	return nodePath
}
