package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/indexer/indexer/store/storetest"
)

func main() {
	name := flag.String("name", "n0", "server `name`")
	dir := flag.String("dir", "", "JetStream store `dir`ectory")
	port := flag.Int("port", 4222, "client `port`")
	clusterPort := flag.Int("cluster-port", 6222, "cluster `port`")
	routes := flag.String("routes", "", "route `urls`, comma-separated")
	peers := flag.Int("peers", 3, "`n` nodes in the cluster")
	flag.Parse()
	var rs []*url.URL
	for _, r := range strings.Split(*routes, ",") {
		u, err := url.Parse(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "natsnode:", err)
			os.Exit(2)
		}
		rs = append(rs, u)
	}
	ns, err := server.NewServer(storetest.NodeOptions(*name, *dir, *port, *clusterPort, rs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
	go ns.Start()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	gone := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(gone) }()
	for deadline := time.Now().Add(time.Minute); !storetest.Formed([]*server.Server{ns}, *peers); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			fmt.Println("not formed")
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	select {
	case <-stop:
	case <-gone:
	}
	ns.Shutdown()
	ns.WaitForShutdown()
}
