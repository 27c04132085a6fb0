package stages

import (
	"context"
	"sync"
)

// Written holds what the stages of one step leave for after the step's status is written: until then,
// what they recorded is in memory only, and the write may be lost (a conflict, a restart), so nothing that
// relies on it being recorded may happen before.
type Written struct {
	mu  sync.Mutex
	fns []func()
}

type writtenKey struct{}

// AfterWrite returns ctx carrying a new Written, for the stages stepped with it.
func AfterWrite(ctx context.Context) (context.Context, *Written) {
	w := &Written{}
	return context.WithValue(ctx, writtenKey{}, w), w
}

// Done runs what the stages left for after the write. Call it only once the step's status is written as
// the stages computed it.
func (w *Written) Done() {
	w.mu.Lock()
	fns := w.fns
	w.fns = nil
	w.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// OnWritten leaves fn for after the write of the step ctx belongs to. A stage stepped without a Written
// (no one writes its status) never runs fn.
func OnWritten(ctx context.Context, fn func()) {
	if w, ok := ctx.Value(writtenKey{}).(*Written); ok {
		w.mu.Lock()
		w.fns = append(w.fns, fn)
		w.mu.Unlock()
	}
}
