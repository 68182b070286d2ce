package batch

import (
	"net/http"
	"testing"
)

// TestStatusText checks the codec's own reason phrases against net/http's,
// which the encoder used before the codec stopped importing net/http.
func TestStatusText(t *testing.T) {
	for code := 100; code <= 999; code++ {
		if got, want := statusText(code), http.StatusText(code); got != want {
			t.Errorf("statusText(%d) = %q, want %q", code, got, want)
		}
	}
}
