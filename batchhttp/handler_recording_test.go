package batchhttp

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
	"github.com/stretchr/testify/require"
)

// echoApp answers every request with what it saw of it: the request next
// gets must not depend on whether pass 2 ran from pass 1's recording or decoded
// the batch again.
func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range r.Header {
				if !yield(k) {
					return
				}
			}
		})
		var b strings.Builder
		b.WriteString(r.Method + " " + r.URL.String() + " " + r.RequestURI + " " + r.Host + " " + r.Proto + " " +
			strconv.FormatInt(r.ContentLength, 10) + "\n")
		for _, k := range keys {
			b.WriteString(k + ": " + strings.Join(r.Header[k], "|") + "\n")
		}
		b.WriteString("body " + strconv.Quote(string(body)) + " " + strconv.FormatBool(err == nil) + "\n")
		w.Header().Set("Location", "/items/"+strconv.Itoa(len(body)))
		if r.Method == http.MethodPatch {
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, b.String())
	})
}

// recordingBatches returns batches to run both ways: generated operations, alone
// and in changesets, the changeset vector, the benchmark loads, and tiny
// operations whose recording would outgrow the batch.
func recordingBatches(t *testing.T) []string {
	r := randChooser{rand.New(rand.NewPCG(7, 3))}
	var out []string
	for range 200 {
		out = append(out, genBatch(r))
	}
	out = append(out, changesetBatch,
		op("b", "", "POST /items HTTP/1.1\nContent-Length: 0\n\n\n")+op("b", "", "PUT /items HTTP/1.1\nContent-Length: 3\n\nfive\n")+"--b--\r\n")
	for _, load := range benchLoads(t) {
		out = append(out, strings.ReplaceAll(string(load.body), "batch_bench", "b"))
	}
	out = append(out, strings.Repeat("--b\r\nContent-Type:application/http\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\n", 300)+"--b--\r\n")
	return out
}

// genBatch returns a batch of generated operations (see genRequest) with
// boundary "b", some of them in changesets.
func genBatch(c chooser) string {
	var b strings.Builder
	for i := range 1 + c.intn(6) {
		if c.intn(3) == 0 {
			b.WriteString("--b\r\nContent-Type: multipart/mixed; boundary=cs" + itoa(i) + "\r\n\r\n")
			for j := range 1 + c.intn(3) {
				b.WriteString(op("cs"+itoa(i), itoa(10*i+j), genRequest(c)+"\n"))
			}
			b.WriteString("--cs" + itoa(i) + "--\r\n")
			continue
		}
		b.WriteString(op("b", pick(c, "", itoa(i), "$1"), genRequest(c)+"\n"))
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

// checkRecordingAsDecoder checks that body gets the same answers whether pass 2
// runs from pass 1's recording or decodes the batch again (SpoolMemory(1) puts
// the batch in a file, where no recording is recorded).
func checkRecordingAsDecoder(t testing.TB, body string) {
	t.Helper()
	prefer := http.Header{"Prefer": {"odata.continue-on-error"}}
	run := func(opts ...HandlerOption) string {
		opts = append(opts, Encoding(batch.WithBoundary("r")))
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
		req.Header["Prefer"] = prefer["Prefer"]
		rec := httptest.NewRecorder()
		Handler(echoApp(), opts...).ServeHTTP(rec, req)
		return strconv.Itoa(rec.Code) + "\n" + randomCS.ReplaceAllString(rec.Body.String(), "changesetresponse_X")
	}
	recorded, decoded := run(), run(SpoolMemory(1))
	if recorded != decoded {
		t.Errorf("from the recording:\n%s\ndecoded again:\n%s\nfor\n%q", recorded, decoded, body)
	}
}

func TestHandlerRecordingAsDecoder(t *testing.T) {
	for _, body := range recordingBatches(t) {
		checkRecordingAsDecoder(t, body)
	}
}

func FuzzHandlerRecordingAsDecoder(f *testing.F) {
	for _, s := range []string{"", "\x01\x02\x03", "\x04\x00\x03\x04\x01\x02\x00\x01\x00\x05", "\x03\x00\x02\x04\x00\x02\x01\x00\x01"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, choices []byte) {
		checkRecordingAsDecoder(t, genBatch(&byteChooser{choices}))
	})
}

// TestHandlerRecorded checks which batches pass 1 records a recording for:
// those held in memory whose recording takes no more than the batch.
func TestHandlerRecorded(t *testing.T) {
	batches := recordingBatches(t)
	for _, tc := range []struct {
		name string
		body string
		mem  bool
		want bool
	}{
		{"changesets", batches[len(batches)-6], true, true},
		{"1000GET", batches[len(batches)-3], true, true},
		{"in a file", batches[len(batches)-3], false, false},
		{"tiny operations", batches[len(batches)-1], true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pl recording
			mem := []byte(tc.body)
			if !tc.mem {
				mem = nil
			}
			pl.start(mem)
			d, err := batch.NewDecoderBoundary(strings.NewReader(tc.body), "b")
			require.NoError(t, err)
			h := Handler(echoApp()).(*handler)
			_, status, msg := h.check(d, batch.ODataV4, nil, &pl)
			require.Zero(t, status, msg)
			require.Equal(t, tc.want, pl.on)
		})
	}
}

// TestHandlerWriteString checks that WriteString answers as Write does, in
// each case its fast path must leave to Write.
func TestHandlerWriteString(t *testing.T) {
	big := strings.Repeat("x", commitAt+10)
	for _, tc := range []struct {
		name   string
		set    func(w http.ResponseWriter)
		writes []string
		method string
		opts   []HandlerOption
	}{
		{"small", nil, []string{"a", "bc"}, "GET", nil},
		{"past commitAt", nil, []string{"a", big, "b"}, "GET", nil},
		{"past Content-Length", func(w http.ResponseWriter) { w.Header().Set("Content-Length", "3") }, []string{"ab", "cd", "e"}, "GET", nil},
		{"HEAD", nil, []string{"<html>", big}, "HEAD", nil},
		{"204", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }, []string{"a"}, "GET", nil},
		{"changeset limit", nil, []string{"abc", big}, "POST", []HandlerOption{MaxBatchBytes(4000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(str bool) string {
				var results []string
				app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.set != nil {
						tc.set(w)
					}
					for _, s := range tc.writes {
						var n int
						var err error
						if str {
							n, err = io.WriteString(w, s)
						} else {
							n, err = w.Write([]byte(s))
						}
						results = append(results, strconv.Itoa(n)+" "+fmt.Sprint(err))
					}
				})
				body := op("b", "1", tc.method+" /items HTTP/1.1\n\n\n")
				if tc.method == "POST" {
					body = "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + op("cs", "1", "POST /items HTTP/1.1\n\n\n") + "--cs--\r\n"
				}
				opts := append([]HandlerOption{Encoding(batch.WithBoundary("r"))}, tc.opts...)
				rec := serveBatch(t, app, body+"--b--\r\n", nil, opts...)
				return strings.Join(results, "\n") + "\n" + randomCS.ReplaceAllString(rec.Body.String(), "changesetresponse_X")
			}
			diff(t, "writes and answer", run(false), run(true))
		})
	}
}

// TestNoControl checks the word-at-a-time test against the byte loop: each
// byte value at each position of strings of each length up to 24, among
// bytes that never count and among those that come close (0x1f, 0x20,
// 0x7e, 0x80, 0xff).
func TestNoControl(t *testing.T) {
	for _, fill := range []byte{'a', 0x20, 0x7e, 0x80, 0xff, '\t', 0x21} {
		for n := 0; n <= 24; n++ {
			for i := 0; i < n; i++ {
				for c := range 256 {
					b := bytes.Repeat([]byte{fill}, n)
					b[i] = byte(c)
					want := noControlBytes(b)
					if got := noControl(b); got != want {
						t.Fatalf("noControl(%q) = %t, want %t", b, got, want)
					}
					if got := noControl(string(b)); got != want {
						t.Fatalf("noControl(string %q) = %t, want %t", b, got, want)
					}
				}
			}
		}
	}
}
