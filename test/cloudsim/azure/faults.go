package azure

import (
	"net/http"
	"time"
)

// Fault is an answer the Sim gives instead of the real one, to the next Count requests of an operation.
type Fault struct {
	// Op is the operation, as in Calls ("VirtualMachineScaleSets.Update"); empty matches every ARM
	// operation (not the token endpoint).
	Op string `json:"op,omitempty"`
	// Status is the HTTP status; default 500.
	Status int `json:"status,omitempty"`
	// Code is the ARM error code; default TooManyRequests for 429, Conflict for 409, InternalServerError
	// otherwise (InternalExecutionError for a failed operation).
	Code string `json:"code,omitempty"`
	// Message is the error message.
	Message string `json:"message,omitempty"`
	// RetryAfter is sent as the Retry-After header, in whole seconds.
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Count is how many requests it answers: 0 means 1, negative means until ClearFaults.
	Count int `json:"count,omitempty"`
	// FailOperation, instead of refusing the request, lets it start its operation and makes that
	// operation end Failed with Code.
	FailOperation bool `json:"failOperation,omitempty"`
}

// Inject adds a fault; faults are matched in the order they were added.
func (s *Sim) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count == 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// startsOperation are the operations whose operation a FailOperation fault can fail.
var startsOperation = map[string]bool{
	"VirtualMachineScaleSets.CreateOrUpdate":  true,
	"VirtualMachineScaleSets.Update":          true,
	"VirtualMachineScaleSets.UpdateInstances": true,
}

// takeFault returns the first fault matching op and uses it up once.
func (s *Sim) takeFault(op string) *Fault {
	if op == "Token" || op == "OpenIDConfiguration" {
		return nil
	}
	for i, f := range s.faults {
		if (f.Op != "" && f.Op != op) || (f.FailOperation && !startsOperation[op]) {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		c := *f
		return &c
	}
	return nil
}

// answer is the error a request-refusing fault sends.
func (f *Fault) answer() *armError {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	code := f.Code
	if code == "" {
		switch status {
		case http.StatusTooManyRequests:
			code = "TooManyRequests"
		case http.StatusConflict:
			code = "Conflict"
		default:
			code = "InternalServerError"
		}
	}
	msg := f.Message
	if msg == "" {
		msg = "injected by the simulator"
	}
	return &armError{Status: status, Code: code, Message: msg, RetryAfter: f.RetryAfter}
}

// operationError is the error an operation made to fail ends with.
func (f *Fault) operationError() *armError {
	code := f.Code
	if code == "" {
		code = "InternalExecutionError"
	}
	msg := f.Message
	if msg == "" {
		msg = "the operation failed (injected by the simulator)"
	}
	return &armError{Status: http.StatusOK, Code: code, Message: msg}
}
