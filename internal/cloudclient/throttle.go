package cloudclient

import (
	"errors"
	"sync"
	"time"
)

// throttles remembers, per key, the cloud's last throttling answer and when
// its Retry-After ends: until then callers get that answer (with the time
// that remains) instead of making a request, so one caller's 429 quiets all
// that share the key.
type throttles[K comparable] struct {
	mu sync.Mutex
	m  map[K]throttle
}

type throttle struct {
	until  time.Time
	answer Error
}

// answer returns the remembered answer for k while its Retry-After runs.
func (t *throttles[K]) answer(k K, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	th, ok := t.m[k]
	if !ok {
		return nil
	}
	wait := th.until.Sub(now)
	if wait <= 0 {
		delete(t.m, k)
		return nil
	}
	answer := th.answer
	answer.RetryAfter = wait
	answer.RequestID = ""
	return &answer
}

// observe remembers err for k if it is a throttling answer with a Retry-After.
func (t *throttles[K]) observe(k K, err error, now time.Time) {
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonThrottled || e.RetryAfter <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	until := now.Add(e.RetryAfter)
	if th, ok := t.m[k]; ok && th.until.After(until) {
		return
	}
	if t.m == nil {
		t.m = map[K]throttle{}
	}
	t.m[k] = throttle{until: until, answer: *e}
}
