// Command receiver is the webhook endpoint of the local demo (make dev): it stands in for a chat or
// ticketing service that a pipeline's webhook stage calls. It is a test double, not part of the product.
//
// It logs every request as one JSON line on stdout, answers a POST with {"id": "<n>", "received": true},
// and answers a GET of /jobs/<id> with {"id": "<id>", "state": "done"}, so that a webhook stage's
// waitForCompletion has something to poll.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "address to listen on")
	flag.Parse()
	var n atomic.Int64
	out := json.NewEncoder(log.Writer())
	log.SetFlags(0)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		_ = out.Encode(map[string]any{
			"time":           time.Now().UTC().Format(time.RFC3339Nano),
			"method":         r.Method,
			"path":           r.URL.Path,
			"idempotencyKey": r.Header.Get("Idempotency-Key"),
			"body":           string(body),
		})
		w.Header().Set("Content-Type", "application/json")
		var resp map[string]any
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/jobs/"):
			resp = map[string]any{"id": strings.TrimPrefix(r.URL.Path, "/jobs/"), "state": "done"}
		default:
			resp = map[string]any{"id": n.Add(1), "received": true}
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
