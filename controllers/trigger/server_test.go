package trigger

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestServerDropsSlowCallers holds connections open the ways a slow or hostile caller does: headers never
// finished, a body never finished, a kept-alive connection left idle. The server closes each at its
// timeout, so none holds a slot or a goroutine for long.
func TestServerDropsSlowCallers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		rw.WriteHeader(http.StatusNoContent)
	})
	const timeout = 300 * time.Millisecond
	s := &Server{Listener: l, Handler: ok, ReadHeaderTimeout: timeout, ReadTimeout: timeout, IdleTimeout: timeout}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	for name, send := range map[string]string{
		"headers not finished": "POST /triggers/a/b/c HTTP/1.1\r\nHost: x\r\n",
		"body not finished":    "POST /triggers/a/b/c HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
		"idle after a call":    "POST /triggers/a/b/c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := fmt.Fprint(c, send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// Without the timeouts the server would keep the connection: the deadline makes that a failure.
			_ = c.SetReadDeadline(start.Add(10 * timeout))
			_, err = io.ReadAll(c)
			if err != nil {
				t.Fatalf("the server kept the connection open for %s: %v", time.Since(start), err)
			}
			t.Logf("closed after %s", time.Since(start).Round(10*time.Millisecond))
		})
	}
}
