package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// result is what one run of the command left behind.
type result struct {
	stdout, stderr string
	code           int
}

// batchcat runs the command in-process with stdin as its standard input.
func batchcat(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	if strings.Contains(errb.String(), "batchcat: internal error") || strings.Contains(errb.String(), "goroutine 1 [") {
		t.Fatalf("batchcat %q panicked:\n%s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// inputs lists the payloads the golden tests run: the repository's decoder
// vectors (bare bodies) and this command's whole-HTTP-message captures.
func inputs(t *testing.T) []string {
	t.Helper()
	vectors, err := filepath.Glob("../../testdata/vectors/*.batch")
	require.NoError(t, err)
	own, err := filepath.Glob("testdata/http/*.http")
	require.NoError(t, err)
	require.NotEmpty(t, own)
	return append(vectors, own...)
}

func name(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// checkGolden compares got with testdata/golden/<file>, or rewrites it with
// -update.
func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", file)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./cmd/batchcat -update and review the result")
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestGolden runs every input through the tree and the -json forms, the way
// the README does (content type sniffed from the payload).
func TestGolden(t *testing.T) {
	for _, in := range inputs(t) {
		t.Run(name(in), func(t *testing.T) {
			tree := batchcat(t, nil, in)
			got := tree.stdout
			if tree.code != 0 {
				got += "--- exit status " + strconv.Itoa(tree.code) + ", standard error:\n" + tree.stderr
			} else {
				require.Empty(t, tree.stderr)
			}
			checkGolden(t, name(in)+".txt", got)

			js := batchcat(t, nil, "-json", in)
			require.Equal(t, tree.code, js.code, "exit status of -json and the tree differ: %s", js.stderr)
			checkGolden(t, name(in)+".jsonl", js.stdout)
		})
	}
}

// vectorExpect is the part of a vector's .json expectation the -json form
// reports.
type vectorExpect struct {
	ContentType string `json:"content_type"`
	Strict      string `json:"strict"`
	Parts       []struct {
		Kind       string     `json:"kind"`
		Boundary   string     `json:"boundary"`
		Message    string     `json:"message"`
		Method     string     `json:"method"`
		Target     string     `json:"target"`
		Status     int        `json:"status"`
		ContentID  *string    `json:"content_id"`
		Header     [][]string `json:"header"`
		Body       *string    `json:"body"`
		BodyBase64 *string    `json:"body_base64"`
	} `json:"parts"`
}

func readJSONL(t *testing.T, s string) []jsonOp {
	t.Helper()
	var ops []jsonOp
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var op jsonOp
		err := dec.Decode(&op)
		if err == io.EOF {
			return ops
		}
		require.NoError(t, err)
		ops = append(ops, op)
	}
}

// TestVectorExpectations checks the -json form against the expectations
// written by hand beside each vector (bodies, hashes and lengths computed
// here from the expected bytes), and -validate -strict against the
// vector's strict verdict. The content type is sniffed.
func TestVectorExpectations(t *testing.T) {
	vectors, _ := filepath.Glob("../../testdata/vectors/*.batch")
	if len(vectors) == 0 {
		t.Skip("no vectors under testdata/vectors")
	}
	for _, in := range vectors {
		t.Run(name(in), func(t *testing.T) {
			raw, err := os.ReadFile(strings.TrimSuffix(in, ".batch") + ".json")
			require.NoError(t, err)
			var exp vectorExpect
			require.NoError(t, json.Unmarshal(raw, &exp))

			var want []jsonOp
			for _, p := range exp.Parts {
				if p.Kind != "operation" {
					continue
				}
				op := jsonOp{
					Index: len(want), Changeset: p.Boundary, Kind: p.Message,
					Method: p.Method, Target: p.Target, Status: p.Status,
					Headers: map[string][]string{},
				}
				if p.ContentID != nil {
					op.ContentID = *p.ContentID
				}
				for _, f := range p.Header {
					op.Headers[f[0]] = append(op.Headers[f[0]], f[1])
				}
				var body []byte
				switch {
				case p.Body != nil:
					body = []byte(*p.Body)
				case p.BodyBase64 != nil:
					body = mustBase64(t, *p.BodyBase64)
				}
				op.BodyLen, op.BodySHA256 = int64(len(body)), sha256Hex(body)
				want = append(want, op)
			}
			res := batchcat(t, nil, "-json", in)
			require.Equal(t, 0, res.code, res.stderr)
			if diff := cmp.Diff(want, readJSONL(t, res.stdout)); diff != "" {
				t.Errorf("batchcat -json %s mismatch (-want +got):\n%s", in, diff)
			}

			// The sniffed boundary is the declared one.
			withCT := batchcat(t, nil, "-json", "-content-type", exp.ContentType, in)
			require.Equal(t, 0, withCT.code, withCT.stderr)
			require.Equal(t, res.stdout, withCT.stdout, "sniffed and declared content types decode differently")

			strict := batchcat(t, nil, "-validate", "-strict", in)
			require.Empty(t, strict.stdout)
			if exp.Strict == "ok" {
				require.Equal(t, 0, strict.code, strict.stderr)
				require.Empty(t, strict.stderr)
			} else {
				require.Equal(t, 1, strict.code, "strict validation passed; the vector says a strict reader must reject it")
				require.Contains(t, strict.stderr, "nonconforming")
			}
			lenient := batchcat(t, nil, "-validate", in)
			require.Equal(t, 0, lenient.code, lenient.stderr)
			require.Empty(t, lenient.stdout+lenient.stderr)
		})
	}
}

// canonical returns ops without bodies and with header names in canonical
// form, as the encoder writes them.
func canonical(ops []jsonOp) []jsonOp {
	out := make([]jsonOp, len(ops))
	for i, op := range ops {
		op.Body, op.BodyBase64 = nil, nil
		h := map[string][]string{}
		for k, v := range op.Headers {
			c := textproto.CanonicalMIMEHeaderKey(k)
			h[c] = append(h[c], v...)
		}
		op.Headers = h
		out[i] = op
	}
	return out
}

// roundTripLoss lists what the -json form cannot carry, per vector.
var roundTripLoss = map[string]string{
	// An empty Content-ID part header beside a non-empty embedded one:
	// content_id is "" for an absent and for an empty Content-ID alike, so
	// -encode writes no part header and the embedded one wins on reading.
	"q18-content-id-precedence": "content_id",
	// A body line starts with "--cs_q14": kept as the changeset boundary,
	// a reader following RFC 2046's note would end the part there, so
	// -encode picks a random changeset boundary instead.
	"q14-prefix-inner": "changeset",
}

// TestRoundTrip: -json -body, then -encode, then decoding again gives the
// same operations. The encoder writes header names in canonical form, so
// they are compared that way.
func TestRoundTrip(t *testing.T) {
	for _, in := range inputs(t) {
		t.Run(name(in), func(t *testing.T) {
			src := batchcat(t, nil, "-json", "-body", in)
			require.Equal(t, 0, src.code, src.stderr)

			ctFile := filepath.Join(t.TempDir(), "ct")
			enc := batchcat(t, []byte(src.stdout), "-encode", "-boundary", "rt_batch_0123", "-keep-content-length", "-ct-out", ctFile)
			require.Equal(t, 0, enc.code, enc.stderr)
			require.Empty(t, enc.stderr)
			ct, err := os.ReadFile(ctFile)
			require.NoError(t, err)
			require.Equal(t, "multipart/mixed; boundary=rt_batch_0123\n", string(ct))

			back := batchcat(t, []byte(enc.stdout), "-json", "-body", "-content-type", strings.TrimSpace(string(ct)))
			require.Equal(t, 0, back.code, back.stderr)
			want, got := canonical(readJSONL(t, src.stdout)), canonical(readJSONL(t, back.stdout))
			if field := roundTripLoss[name(in)]; field == "content_id" {
				for i := range want {
					want[i].ContentID = ""
				}
				for i := range got {
					got[i].ContentID = ""
				}
			}
			if field := roundTripLoss[name(in)]; field == "changeset" && len(got) == len(want) {
				for i := range want {
					require.Equal(t, want[i].Changeset == "", got[i].Changeset == "", "operation %d: in a changeset or not", i)
					want[i].Changeset, got[i].Changeset = "", ""
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
			if roundTripLoss[name(in)] != "" {
				return
			}
			// Encoding the result again changes nothing: the first
			// encoding is a fixed point.
			again := batchcat(t, []byte(back.stdout), "-encode", "-boundary", "rt_batch_0123", "-keep-content-length")
			require.Equal(t, 0, again.code, again.stderr)
			require.Equal(t, enc.stdout, again.stdout)
		})
	}
}

// TestEncodeFixesContentLength: an edited body gets a consistent
// Content-Length unless -keep-content-length says otherwise, and the output
// passes a strict reader.
func TestEncodeFixesContentLength(t *testing.T) {
	in := `{"index":0,"changeset":"cs_1","content_id":"1","kind":"request","method":"POST","target":"/x","status":0,` +
		`"headers":{"content-length":["3"],"Content-Type":["text/plain"]},"body":"edited body"}` + "\n" +
		`{"kind":"request","method":"GET","target":"/y"}` + "\n"
	res := batchcat(t, []byte(in), "-encode", "-boundary", "b_1")
	require.Equal(t, 0, res.code, res.stderr)
	want := "--b_1\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n" +
		"--cs_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n" +
		"POST /x HTTP/1.1\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nedited body\r\n--cs_1--\r\n" +
		"--b_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /y HTTP/1.1\r\n\r\n\r\n--b_1--\r\n"
	require.Equal(t, want, res.stdout)
	v := batchcat(t, []byte(res.stdout), "-validate", "-strict")
	require.Equal(t, 0, v.code, v.stderr)

	kept := batchcat(t, []byte(in), "-encode", "-boundary", "b_1", "-keep-content-length")
	require.Equal(t, 0, kept.code, kept.stderr)
	require.Contains(t, kept.stdout, "Content-Length: 3\r\n")
	v = batchcat(t, []byte(kept.stdout), "-validate", "-strict")
	require.Equal(t, 1, v.code)
}

func TestEncodeDialects(t *testing.T) {
	in := `{"kind":"response","status":200,"headers":{},"body":"ok"}` + "\n"
	res := batchcat(t, []byte(in), "-encode", "-dialect", "ucwa", "-boundary", "u1")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "--u1\r\nContent-Type: application/http; msgtype=response\r\n\r\nHTTP/1.1 200 OK\r\n\r\nok\r\n--u1--\r\n", res.stdout)

	cs := `{"kind":"request","method":"POST","target":"/x","changeset":"cs"}` + "\n"
	res = batchcat(t, []byte(cs), "-encode", "-dialect", "ucwa")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "UCWA batches have no changesets")

	res = batchcat(t, []byte(cs), "-encode", "-dialect", "sharepoint", "-boundary", "s1")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "--s1\r\nContent-Type: multipart/mixed; boundary=cs\r\nContent-Transfer-Encoding: binary\r\n")
}

func TestEncodeBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "GET / HTTP/1.1\n", "not -json output"},
		{"truncated json", `{"kind":"request"`, "not -json output"},
		{"bad kind", `{"kind":"other"}`, `kind "other"`},
		{"missing body", `{"kind":"request","method":"GET","target":"/","body_len":5}`, "produce the input with -json -body"},
		{"bad base64", `{"kind":"request","method":"GET","target":"/","body_base64":"!!"}`, "body_base64"},
		{"header injection", `{"kind":"request","method":"GET","target":"/","headers":{"X":["a\r\nEvil: 1"]}}`, "unsafe"},
		{"no target", `{"kind":"request","method":"GET"}`, "Target"},
		{"delimiter in body", `{"kind":"request","method":"POST","target":"/","body":"a\r\n--b_1--\r\n"}`, "delimiter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := batchcat(t, []byte(tc.in), "-encode", "-boundary", "b_1")
			require.Equal(t, 1, res.code, res.stderr)
			require.True(t, strings.HasPrefix(res.stderr, "batchcat: standard input: "), res.stderr)
			require.Contains(t, res.stderr, tc.want)
		})
	}
}
