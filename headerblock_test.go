package batch

import (
	"strings"
	"testing"
)

// TestKnownName checks knownName against the general path it shortcuts: an
// IndexByte for the colon and headerKey on the name.
func TestKnownName(t *testing.T) {
	for _, line := range []string{
		"Content-Type: a", "content-type:", "CONTENT-TYPE:x", "Content-Type : a", "Content-Typo: a",
		"Content-ID: 1", "content-id:", "Content-ID", "Content-IDs: 1", "Content\rID: 1",
		"Content-Length: 2", "content-length:", "Content-Lengthy: 2",
		"Content-Transfer-Encoding: binary", "content-transfer-encoding:", "Content-Transfer-Encodings: b",
		"Content-Transfer\rEncoding: b", "Content-Type\x0f: a", "Content-", "OData-Version: 4.0", "X: y",
	} {
		colon, key := knownName([]byte(line))
		if colon < 0 {
			continue
		}
		want := strings.IndexByte(line, ':')
		if colon != want || key != headerKey([]byte(line[:want])) {
			t.Errorf("knownName(%q) = %d, %d; want %d, %d", line, colon, key, want, headerKey([]byte(line[:want])))
		}
	}
	for _, line := range []string{"Content-Type: a", "content-id:", "Content-Length: 2", "Content-Transfer-Encoding: binary"} {
		if colon, _ := knownName([]byte(line)); colon < 0 {
			t.Errorf("knownName(%q) = -1, want the colon", line)
		}
	}
}
