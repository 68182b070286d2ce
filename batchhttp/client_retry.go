package batchhttp

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter returns how long resp asks the client to wait before trying
// again, from its Retry-After header: a number of seconds, or an HTTP-date
// (RFC 9110 §10.2.3), which is counted from now and is 0 when it has
// passed. It reports false when resp is nil or has no valid Retry-After.
//
// Microsoft Graph throttles each request of a batch on its own: the batch is
// answered 200 and a throttled request 429 Too Many Requests with a
// Retry-After of its own, so it is this answer's header, not the outer
// response's, that says when to send that request again:
//
//	for i, r := range resps {
//		if d, ok := batchhttp.RetryAfter(r); ok && r.StatusCode == http.StatusTooManyRequests {
//			retry(b.Requests()[i], d)
//		}
//	}
func RetryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	return retryAfter(resp.Header.Get("Retry-After"), time.Now())
}

// retryAfter parses a Retry-After value at the time now.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return math.MaxInt64, true
			}
			return 0, false
		}
		if n > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
