package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// A small CRLF batch: a GET, then a changeset with one POST.
const crlfBatch = "--batch_t\r\n" +
	"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
	"GET /api/v2.0/me/events HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n" +
	"--batch_t\r\nContent-Type: multipart/mixed; boundary=changeset_t\r\n\r\n" +
	"--changeset_t\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n" +
	"POST /api/v2.0/me/sendmail HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" +
	"{\"Message\":{\"Subject\":\"Meet for lunch?\"}}\r\n" +
	"--changeset_t--\r\n" +
	"--batch_t--\r\n"

const crlfBatchTree = `batch boundary=batch_t  (from the first delimiter line)
  #0  GET /api/v2.0/me/events  body 0 B
  changeset changeset_t
    #1  POST /api/v2.0/me/sendmail  (content-id 1)  application/json  body 41 B  {"Message":{"Subject":"Meet for lunch?"}}
  end changeset_t
2 operations (2 requests, 0 responses) in 1 changeset, 3 parts
`

// TestSniff feeds the same batch in each form the content type can come
// from; all decode to the same operations.
func TestSniff(t *testing.T) {
	bare := batchcat(t, []byte(crlfBatch), "-json")
	require.Equal(t, 0, bare.code, bare.stderr)
	require.Equal(t, 2, strings.Count(bare.stdout, "\n"))
	require.Contains(t, bare.stdout, `"changeset":"changeset_t","content_id":"1","kind":"request","method":"POST"`)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(crlfBatch))
	zw.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "bare.batch")
	require.NoError(t, os.WriteFile(file, []byte(crlfBatch), 0o644))

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"stdin, no argument", crlfBatch, nil},
		{"stdin as -", crlfBatch, []string{"-"}},
		{"file argument", "", []string{file}},
		{"content-type flag", crlfBatch, []string{"-content-type", `multipart/mixed; boundary="batch_t"`}},
		{"content-type flag wins over the message", "POST /$batch HTTP/1.1\r\nContent-Type: multipart/mixed; boundary=wrong\r\n\r\n" + crlfBatch,
			[]string{"-content-type", "multipart/mixed; boundary=batch_t"}},
		{"BOM and blank lines before the first delimiter", "\xef\xbb\xbf\r\n\r\n" + crlfBatch, nil},
		{"preamble text", "This is a multi-part message in MIME format.\r\n" + crlfBatch, nil},
		{"request message", "POST https://outlook.office.com/api/v2.0/me/$batch HTTP/1.1\r\nHost: outlook.office.com\r\n" +
			"Content-Type: multipart/mixed; boundary=batch_t\r\n\r\n" + crlfBatch, nil},
		{"response message, LF head", "HTTP/1.1 200 OK\nCONTENT-TYPE: multipart/mixed;boundary=\"batch_t\"\nContent-Length: 999\n\n" + crlfBatch, nil},
		{"HTTP/2 capture", "HTTP/2 200\r\ncontent-type: multipart/mixed; boundary=batch_t\r\n\r\n" + crlfBatch, nil},
		{"documentation form: blank line after the request line", "POST https://outlook.office.com/api/v2.0/me/$batch HTTP/1.1\n\n" +
			"Authorization: Bearer x\nContent-Type: multipart/mixed; boundary=batch_t\n\n\n" + crlfBatch, nil},
		{"message without Content-Type: body sniffed", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n" + crlfBatch, nil},
		{"multipart Content-Type without boundary: body sniffed", "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed\r\n\r\n" + crlfBatch, nil},
		{"proxy CONNECT answer then the message", "HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 202 Accepted\r\n" +
			"Content-Type: multipart/mixed; boundary=batch_t\r\n\r\n" + crlfBatch, nil},
		{"gzip content coding", "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=batch_t\r\nContent-Encoding: gzip\r\n\r\n" + gz.String(), nil},
		{"gzip declared but body already decoded", "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=batch_t\r\nContent-Encoding: gzip\r\n\r\n" + crlfBatch, nil},
		{"chunked declared but body already decoded", "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=batch_t\r\nTransfer-Encoding: chunked\r\n\r\n" + crlfBatch, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := batchcat(t, []byte(tc.stdin), append([]string{"-json"}, tc.args...)...)
			require.Equal(t, 0, res.code, res.stderr)
			require.Empty(t, res.stderr)
			require.Equal(t, bare.stdout, res.stdout)
		})
	}

	tree := batchcat(t, []byte(crlfBatch))
	require.Equal(t, 0, tree.code, tree.stderr)
	require.Equal(t, crlfBatchTree, tree.stdout)

	msg := batchcat(t, []byte("POST https://host/$batch HTTP/1.1\r\nContent-Type: multipart/mixed; boundary=batch_t\r\n\r\n"+crlfBatch))
	require.Equal(t, 0, msg.code, msg.stderr)
	require.True(t, strings.HasPrefix(msg.stdout, "http  POST https://host/$batch HTTP/1.1\nbatch multipart/mixed; boundary=batch_t\n  #0  GET"), msg.stdout)
}

func TestSniffFails(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		code        int
		want        string
	}{
		{"empty input", "", 2, "no content type found"},
		{"not a batch", "<html></html>\n", 2, "-content-type"},
		{"JSON, not a batch", "{\"value\":[]}\n", 1, `no "requests" or "responses" member`},
		{"message without a batch", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>", 1, `"text/html", not a multipart batch`},
		{"message with JSON, not a batch", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}", 1, `no "requests" or "responses" member`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := batchcat(t, []byte(tc.stdin))
			require.Equal(t, tc.code, res.code, res.stderr)
			require.Empty(t, res.stdout)
			require.True(t, strings.HasPrefix(res.stderr, "batchcat: standard input: "), res.stderr)
			require.Contains(t, res.stderr, tc.want)
		})
	}
}

var offsetPart = regexp.MustCompile(`at offset [0-9]+ in part [0-9]+`)

func TestValidate(t *testing.T) {
	ok := batchcat(t, []byte(crlfBatch), "-validate")
	require.Equal(t, result{"", "", 0}, ok)
	ok = batchcat(t, []byte(crlfBatch), "-validate", "-strict")
	require.Equal(t, result{"", "", 0}, ok)

	// Truncated inside the POST body: exit 1, offset and part on stderr,
	// whatever the mode.
	cut := crlfBatch[:strings.Index(crlfBatch, "Meet")]
	for _, mode := range [][]string{{"-validate"}, {"-json"}, {}} {
		res := batchcat(t, []byte(cut), mode...)
		require.Equal(t, 1, res.code, "%v: %s", mode, res.stderr)
		require.Regexp(t, offsetPart, res.stderr)
		require.Contains(t, res.stderr, "truncated")
		require.Contains(t, res.stderr, "at offset "+itoa(len(cut))+" in part 2")
	}
	// The operations before the error are printed.
	res := batchcat(t, []byte(cut), "-json")
	require.Equal(t, 1, strings.Count(res.stdout, "\n"))

	// Offsets are offsets in the input, past the outer headers.
	head := "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=batch_t\r\n\r\n"
	res = batchcat(t, []byte(head+cut), "-validate")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "at offset "+itoa(len(head)+len(cut))+" in part 2")
	require.Contains(t, res.stderr, "the batch body starts at offset "+itoa(len(head)))

	// -strict on a bare-LF payload.
	lf := strings.ReplaceAll(crlfBatch, "\r\n", "\n")
	res = batchcat(t, []byte(lf), "-validate")
	require.Equal(t, result{"", "", 0}, res)
	res = batchcat(t, []byte(lf), "-validate", "-strict")
	require.Equal(t, 1, res.code)
	require.Empty(t, res.stdout)
	require.Contains(t, res.stderr, "nonconforming input (bare LF line ending) at offset 0 before the first part")

	// A bare LF in a later part only.
	mixed := strings.Replace(crlfBatch, "Accept: application/json\r\n", "Accept: application/json\n", 1)
	res = batchcat(t, []byte(mixed), "-validate", "-strict")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "nonconforming input (bare LF line ending) at offset ")
	require.Contains(t, res.stderr, " in part 0")

	// The tree shows what was tolerated.
	res = batchcat(t, []byte(lf))
	require.Equal(t, 0, res.code)
	require.Contains(t, res.stdout, "[tolerated: bare LF line ending]")
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestUsage(t *testing.T) {
	help := batchcat(t, nil, "-h")
	require.Equal(t, 0, help.code)
	for _, s := range []string{"Exit status:", "0  success", "1  the input is not a valid batch", "2  usage error", "-content-type", "-encode", "-ct-out"} {
		require.Contains(t, help.stderr, s)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-json", "-validate"}, "exclude each other"},
		{[]string{"-body"}, "-body needs -json"},
		{[]string{"-boundary", "x"}, "need -encode"},
		{[]string{"-encode", "-strict"}, "do not apply to -encode"},
		{[]string{"-encode", "-dialect", "soap"}, "-dialect"},
		{[]string{"-encode", "-boundary", "bad\"boundary"}, "-boundary"},
		{[]string{"a", "b"}, "one input file at most"},
		{[]string{"testdata/does-not-exist.batch"}, "no such file"},
		{[]string{"-content-type", "text/plain", "testdata/http/http-outlook-v2-request.http"}, "-content-type"},
		{[]string{"-to", "xml"}, "-to"},
		{[]string{"-to", "json", "-boundary", "b"}, "-boundary does not apply"},
		{[]string{"-json", "-to", "json"}, "exclude each other"},
	} {
		res := batchcat(t, nil, tc.args...)
		require.Equal(t, 2, res.code, "%v: %s", tc.args, res.stderr)
		require.Empty(t, res.stdout)
		require.True(t, strings.HasPrefix(res.stderr, "batchcat: ") || strings.HasPrefix(res.stderr, "flag provided"), res.stderr)
		require.Contains(t, res.stderr, tc.want, tc.args)
	}
}

// TestWriteError: a failing standard output is exit status 2, not a panic.
func TestWriteError(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"-json"}, strings.NewReader(crlfBatch), failWriter{}, &errb)
	require.Equal(t, 2, code)
	require.Contains(t, errb.String(), "batchcat: writing output: ")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// TestStreaming: each operation is printed as soon as its body has been
// read, before the rest of the input arrives (curl ... | batchcat -json).
func TestStreaming(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run([]string{"-json"}, inR, outW, io.Discard)
		outW.Close()
		done <- code
	}()
	first, rest, ok := strings.Cut(crlfBatch, "--batch_t\r\nContent-Type: multipart/mixed")
	require.True(t, ok)
	_, err := io.WriteString(inW, first+"--batch_t\r\n")
	require.NoError(t, err)
	lines := bufio.NewReader(outR)
	got := make(chan string, 1)
	go func() {
		l, _ := lines.ReadString('\n')
		got <- l
	}()
	select {
	case l := <-got:
		require.Contains(t, l, `"index":0`)
	case <-time.After(10 * time.Second):
		t.Fatal("the first operation was not printed before the input ended")
	}
	_, err = io.WriteString(inW, "Content-Type: multipart/mixed"+rest)
	require.NoError(t, err)
	inW.Close()
	l, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, l, `"index":1`)
	require.Equal(t, 0, <-done)
}

func TestEmptyBatch(t *testing.T) {
	res := batchcat(t, []byte("--b--\r\n"))
	require.Equal(t, result{"batch boundary=b  (from the first delimiter line)\n0 operations (0 requests, 0 responses), no changeset, 0 parts\n", "", 0}, res)
}

// TestCutInputs: every input cut short anywhere gives exit status 0, 1 or
// 2 with a message, never a panic.
func TestCutInputs(t *testing.T) {
	for _, in := range inputs(t) {
		data, err := os.ReadFile(in)
		require.NoError(t, err)
		for n := 0; n < len(data); n += 1 + n/4 {
			for _, mode := range [][]string{nil, {"-json", "-body"}} {
				res := batchcat(t, data[:n], mode...)
				if res.code != 0 {
					require.Contains(t, []int{1, 2}, res.code)
					require.True(t, strings.HasPrefix(res.stderr, "batchcat: standard input: "), res.stderr)
				}
			}
		}
	}
}
