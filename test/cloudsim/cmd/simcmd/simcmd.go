// Package simcmd is what the commands that run the cloud simulators on their own share (cmd/awssim,
// cmd/gcpsim, cmd/azuresim): a main that exits as a command should, repeatable flags, delays given on the
// command line, and serving on loopback only, since no simulator checks who calls it and their admin APIs
// have no authentication at all.
package simcmd

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Main runs the command until SIGINT or SIGTERM, and exits 2 on -h, 1 on any other error.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// ListFlag collects a repeatable string flag.
type ListFlag []string

func (l *ListFlag) String() string     { return strings.Join(*l, ",") }
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }

// Delay turns a delay given on the command line into the simulators' Options: they read a zero delay as
// "use the default", while on the command line 0 means no delay, which is a negative Options value.
func Delay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// CheckLoopback refuses a listen address that is not plainly loopback, before anything is bound.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad -addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing -addr %q: only loopback addresses (127.0.0.1, ::1, localhost) are allowed", addr)
	}
	return nil
}

// Listen binds addr, which CheckLoopback allowed, and checks again what it was bound to: a name such as
// localhost could resolve elsewhere.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("refusing to serve on non-loopback address %s", ln.Addr())
	}
	return ln, nil
}

// Serve serves the simulator on ln, its admin API under adminPrefix, over TLS when tlsConfig is set,
// until ctx is done; then it shuts the server down gracefully.
func Serve(ctx context.Context, ln net.Listener, adminPrefix string, admin, sim http.Handler, tlsConfig *tls.Config) error {
	mux := http.NewServeMux()
	mux.Handle(adminPrefix, admin)
	mux.Handle("/", sim)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
