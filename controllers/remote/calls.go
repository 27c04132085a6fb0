// Package remote makes requests to remote endpoints (a webhook stage's call and polls) outside the
// reconciles that ask for them. A reconcile hands a request over and returns; the request waits for one of a
// few slots, runs within its own deadline, and its answer is kept until the run that asked takes it, which
// is woken for that. A slow or hanging endpoint thus holds a slot for at most its deadline, never a
// reconcile worker, and never delays other runs' judgments or waits.
//
// Nothing here is the record of a run: that stays in the Execution's status. Calls only remembers what is in
// flight and answers not yet taken, within fixed bounds, so that a restarted operator loses nothing that a
// new request cannot replace.
package remote

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Key names one request: the run and stage it is for, and which of their requests it is ("call", "poll/3").
// Two requests with the same key are one: the second is never made while the first is known.
type Key struct {
	Run     types.UID
	Stage   string
	Attempt string
}

// Request is a request to hand over.
type Request[R any] struct {
	Key Key
	// Owner is the Execution to wake when the answer is in.
	Owner types.NamespacedName
	// Do makes the request; ctx carries its deadline. Do reports failures in R: there is no one to return an
	// error to.
	Do func(ctx context.Context) R
	// Once marks a request that must not be made twice, such as a call that may not be safe to repeat: when
	// its answer is dropped before a later request of its stage is handed over, its key stays Lost instead
	// of becoming Unknown, so that no one hands it over again.
	Once bool
}

// State is where a request is.
type State int

const (
	// Unknown: never handed over here, or the answer to a request not Once is gone (taken too late, or
	// pushed out by newer ones), or the operator restarted since. Whoever wants it hands it over again.
	Unknown State = iota
	// Pending: waiting for a slot, or in flight.
	Pending
	// Done: answered; the answer is kept until TTL has passed, the stage has moved on to another request,
	// or it is forgotten once recorded.
	Done
	// Lost: a Once request was answered, and its answer dropped (TTL, MaxBytes) before the stage moved on to
	// another request: whether it was recorded is not known here, and making it again could repeat it. Kept,
	// without the answer, until the stage hands over another request, it is forgotten, or LostTTL has passed.
	Lost
)

// ErrBusy says every slot and queue place is taken: the request was not handed over; try again later.
var ErrBusy = errors.New("too many remote requests in flight")

// Options bound what Calls holds. Zero values take the defaults.
type Options[R any] struct {
	// Slots is how many requests run at once (default 16).
	Slots int
	// Queue is how many more may wait for a slot (default 256); beyond, Submit returns ErrBusy.
	Queue int
	// Timeout bounds each request from the moment it has a slot (default DefaultTimeout).
	Timeout time.Duration
	// TTL is how long an answer waits to be taken (default 10m).
	TTL time.Duration
	// MaxBytes bounds the answers held, by Size; the oldest go first (default 64 MiB).
	MaxBytes int64
	// Size is what an answer weighs against MaxBytes; nil counts each as 1 KiB.
	Size func(R) int64
	// Wake asks for a reconcile of the owner once its answer is in. A wake-up that cannot be delivered in
	// a few seconds is dropped: the stage's own next check is the safety net.
	Wake func(ctx context.Context, owner types.NamespacedName)
	// LostTTL is how long a Lost key is remembered (default 24h); MaxLost bounds how many are (default
	// 65536), the oldest going first.
	LostTTL time.Duration
	MaxLost int
	// Clock tells the time, for TTL.
	Clock clock.PassiveClock
}

// DefaultTimeout is each request's deadline unless Options say otherwise: well under what a reconcile may
// take, and the same as the cloud calls' of one ServerGroup reconcile.
const DefaultTimeout = 30 * time.Second

const (
	defaultSlots    = 16
	defaultQueue    = 256
	defaultTTL      = 10 * time.Minute
	defaultMaxBytes = 64 << 20
	defaultLostTTL  = 24 * time.Hour
	defaultMaxLost  = 1 << 16
	entryOverhead   = 1 << 10
	wakeTimeout     = 5 * time.Second
)

// Calls runs handed-over requests. It is safe for concurrent use.
type Calls[R any] struct {
	o     Options[R]
	slots chan struct{}

	mu sync.Mutex
	// entries are the known requests, by run and stage, then attempt.
	entries map[scope]map[string]*entry[R]
	// answered holds the Done entries, oldest answer first, for TTL and MaxBytes; lost the Lost ones, oldest
	// first, for LostTTL and MaxLost.
	answered *list.List
	lost     *list.List
	pending  int
	bytes    int64
}

type scope struct {
	run   types.UID
	stage string
}

type entry[R any] struct {
	key    Key
	state  State
	answer R
	size   int64
	at     time.Time // when answered, or lost
	elem   *list.Element
	once   bool
}

// New returns Calls bounded by o.
func New[R any](o Options[R]) *Calls[R] {
	if o.Slots <= 0 {
		o.Slots = defaultSlots
	}
	if o.Queue <= 0 {
		o.Queue = defaultQueue
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.TTL <= 0 {
		o.TTL = defaultTTL
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.LostTTL <= 0 {
		o.LostTTL = defaultLostTTL
	}
	if o.MaxLost <= 0 {
		o.MaxLost = defaultMaxLost
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Calls[R]{o: o, slots: make(chan struct{}, o.Slots), entries: map[scope]map[string]*entry[R]{}, answered: list.New(), lost: list.New()}
}

// Timeout is each request's deadline.
func (c *Calls[R]) Timeout() time.Duration { return c.o.Timeout }

// Submit hands r over, unless a request of the same key is known: then it only reports that one. It
// returns the key's state afterwards, and its answer when Done. Answers to the stage's other requests are
// dropped: the stage has moved on from them. ErrBusy means r was not handed over.
func (c *Calls[R]) Submit(r Request[R]) (R, State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	sc := scope{r.Key.Run, r.Key.Stage}
	if e := c.entries[sc][r.Key.Attempt]; e != nil {
		return e.answer, e.state, nil
	}
	var zero R
	if c.pending >= c.o.Slots+c.o.Queue {
		return zero, Unknown, ErrBusy
	}
	for attempt, e := range c.entries[sc] {
		if e.state == Done || e.state == Lost {
			c.forget(e)
			delete(c.entries[sc], attempt)
		}
	}
	if c.entries[sc] == nil {
		c.entries[sc] = map[string]*entry[R]{}
	}
	e := &entry[R]{key: r.Key, state: Pending, once: r.Once}
	c.entries[sc][r.Key.Attempt] = e
	c.pending++
	go c.run(e, r)
	return zero, Pending, nil
}

// Result returns the state of a key, and its answer when Done. Taking an answer does not drop it: the
// status write that records it may fail, and the next reconcile takes it again.
func (c *Calls[R]) Result(k Key) (R, State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	if e := c.entries[scope{k.Run, k.Stage}][k.Attempt]; e != nil {
		return e.answer, e.state
	}
	var zero R
	return zero, Unknown
}

// Forget drops a key's answer, or its Lost mark, once the run's status records the answer: the stage will
// not ask for it again, and kept, it would count against TTL, MaxBytes and MaxLost for nothing (a finished
// stage hands over no later request that would drop it). A Pending key is kept: its request runs on. Only
// call it after the status write went through, or a Once request whose answer that write lost could be
// made again.
func (c *Calls[R]) Forget(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[scope{k.Run, k.Stage}][k.Attempt]
	if e == nil || e.state == Pending {
		return
	}
	c.forget(e)
	c.remove(e)
}

func (c *Calls[R]) run(e *entry[R], r Request[R]) {
	c.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	answer := r.Do(ctx)
	cancel()
	<-c.slots

	c.mu.Lock()
	c.pending--
	e.state, e.answer, e.at = Done, answer, c.o.Clock.Now()
	e.size = entryOverhead
	if c.o.Size != nil {
		e.size += c.o.Size(answer)
	}
	e.elem = c.answered.PushBack(e)
	c.bytes += e.size
	c.expire()
	c.mu.Unlock()

	if c.o.Wake != nil {
		ctx, cancel := context.WithTimeout(context.Background(), wakeTimeout)
		c.o.Wake(ctx, r.Owner)
		cancel()
	}
}

// expire drops answers older than TTL, and the oldest ones while the answers weigh more than MaxBytes;
// those of Once requests leave a Lost key behind. It then drops Lost keys older than LostTTL or beyond
// MaxLost. Callers hold c.mu.
func (c *Calls[R]) expire() {
	now := c.o.Clock.Now()
	for front := c.answered.Front(); front != nil; front = c.answered.Front() {
		e := front.Value.(*entry[R])
		if now.Sub(e.at) < c.o.TTL && c.bytes <= c.o.MaxBytes {
			break
		}
		c.forget(e)
		if e.once {
			var zero R
			e.state, e.answer, e.at = Lost, zero, now
			e.elem = c.lost.PushBack(e)
			continue
		}
		c.remove(e)
	}
	for front := c.lost.Front(); front != nil; front = c.lost.Front() {
		e := front.Value.(*entry[R])
		if now.Sub(e.at) < c.o.LostTTL && c.lost.Len() <= c.o.MaxLost {
			return
		}
		c.forget(e)
		c.remove(e)
	}
}

// remove takes an entry out of entries. Callers hold c.mu.
func (c *Calls[R]) remove(e *entry[R]) {
	sc := scope{e.key.Run, e.key.Stage}
	delete(c.entries[sc], e.key.Attempt)
	if len(c.entries[sc]) == 0 {
		delete(c.entries, sc)
	}
}

// forget takes a Done or Lost entry out of its list and the answers' accounting. Callers hold c.mu and
// remove it from entries.
func (c *Calls[R]) forget(e *entry[R]) {
	if e.state == Lost {
		c.lost.Remove(e.elem)
		return
	}
	c.answered.Remove(e.elem)
	c.bytes -= e.size
}
