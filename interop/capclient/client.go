package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/batchcodec/batch/batchhttp"
)

// client holds the service root, an http.Client whose transport keeps a
// copy of the last batch request and answer (for the notes on what CAP
// sent), and the notes of the running check.
type client struct {
	root  string // service root, ending in "/"
	hc    *http.Client
	rec   *recorder
	notes []string
}

func newClient(root string) *client {
	rec := &recorder{base: http.DefaultTransport}
	return &client{root: root, hc: &http.Client{Transport: rec}, rec: rec}
}

// note records a fact about CAP's answer, printed under the check's line.
func (c *client) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// req returns a request for target, which is relative to the service root
// ("Books(201)") or a Content-ID reference ("$new"), kept relative. A
// non-nil body is sent as JSON. A non-empty contentID becomes the request's
// Content-ID header, which RequestBatch uses as its Content-ID (multipart)
// or id (JSON).
func (c *client) req(method, target string, body any, contentID string) *http.Request {
	u := target
	if !strings.HasPrefix(target, "$") {
		u = c.root + target
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(b)
	}
	r, err := http.NewRequest(method, u, rd)
	if err != nil {
		panic(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if contentID != "" {
		r.Header.Set("Content-ID", contentID)
	}
	return r
}

// send posts the batch to the service's $batch endpoint.
func (c *client) send(ctx context.Context, b *batchhttp.RequestBatch, opts ...batchhttp.ClientOption) (*http.Response, error) {
	r, err := b.NewRequest(ctx, c.root+"$batch", opts...)
	if err != nil {
		return nil, fmt.Errorf("NewRequest: %w", err)
	}
	resp, err := c.hc.Do(r)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// exchange sends b and reads its whole answer with ReadResponse, noting
// the outer answer and the shape of what CAP wrote whatever ReadResponse
// makes of it. A failed send is its error too: the checks that expect
// ReadResponse to fail (ErrStopped, ErrBatchFailed) then say what they got.
func (c *client) exchange(ctx context.Context, b *batchhttp.RequestBatch, opts ...batchhttp.ClientOption) ([]*http.Response, error) {
	resp, err := c.send(ctx, b, opts...)
	if err != nil {
		return nil, err
	}
	resps, err := b.ReadResponse(resp)
	c.note("outer %s", c.outer())
	c.note("answer %s", c.answerShape())
	return resps, err
}

// get reads an entity or collection outside any batch, to see what the
// batch left in the service.
func (c *client) get(ctx context.Context, target string) (int, map[string]any, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.root+target, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: %d, body not JSON: %w", target, resp.StatusCode, err)
	}
	return resp.StatusCode, m, nil
}

// stock returns the stock of book id outside any batch.
func (c *client) stock(ctx context.Context, id int) (float64, error) {
	code, m, err := c.get(ctx, fmt.Sprintf("Books(%d)", id))
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET Books(%d): %d", id, code)
	}
	s, _ := m["stock"].(float64)
	return s, nil
}

// absent checks that book id does not exist.
func (c *client) absent(ctx context.Context, id int) error {
	code, _, err := c.get(ctx, fmt.Sprintf("Books(%d)", id))
	if err != nil {
		return err
	}
	if code != http.StatusNotFound {
		return fmt.Errorf("Books(%d) exists (GET answered %d): the changeset was not rolled back", id, code)
	}
	return nil
}

// expect checks an answer's status and, when want is not nil, that its JSON
// body holds each of want's members with that value. It reads the body.
func expect(what string, r *http.Response, status int, want map[string]any) error {
	if r == nil {
		return fmt.Errorf("%s: no answer", what)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("%s: reading the body: %w", what, err)
	}
	if r.StatusCode != status {
		return fmt.Errorf("%s: status %d, want %d (body %s)", what, r.StatusCode, status, excerpt(body))
	}
	if want == nil {
		return nil
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return fmt.Errorf("%s: Content-Type %q, want application/json", what, r.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: body is not a JSON object: %v (%s)", what, err, excerpt(body))
	}
	for k, v := range want {
		if fmt.Sprint(m[k]) != fmt.Sprint(v) {
			return fmt.Errorf("%s: %s is %v, want %v (body %s)", what, k, m[k], v, excerpt(body))
		}
	}
	return nil
}

// failed checks that an answer is a failure (400 or more) and returns its
// status.
func failed(what string, r *http.Response) (int, error) {
	if r == nil {
		return 0, fmt.Errorf("%s: no answer", what)
	}
	if r.StatusCode < 400 {
		body, _ := io.ReadAll(r.Body)
		return r.StatusCode, fmt.Errorf("%s: status %d, want a failure (body %s)", what, r.StatusCode, excerpt(body))
	}
	return r.StatusCode, nil
}

func excerpt(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// recorder is an http.RoundTripper that keeps a copy of the last request
// body it sent and of the last answer body read through it (up to 64 KiB
// each), so that the notes can say what went over the wire.
type recorder struct {
	base      http.RoundTripper
	sent, got bytes.Buffer
	resp      *http.Response
}

const recordMax = 64 << 10

func (t *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	t.sent.Reset()
	t.got.Reset()
	t.resp = nil
	if r.Body != nil && r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			_, _ = io.Copy(&t.sent, io.LimitReader(b, recordMax))
			b.Close()
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.resp = resp
	resp.Body = &teeBody{rc: resp.Body, w: &t.got}
	return resp, nil
}

type teeBody struct {
	rc io.ReadCloser
	w  *bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if room := recordMax - b.w.Len(); room > 0 {
		b.w.Write(p[:min(n, room)])
	}
	return n, err
}

// Close copies what the reader left unread into the record, so that the
// notes see the whole answer even when the client stopped early.
func (b *teeBody) Close() error {
	if room := recordMax - b.w.Len(); room > 0 {
		_, _ = io.CopyN(b.w, b.rc, int64(room))
	}
	return b.rc.Close()
}

// outer describes the last outer answer: status, Content-Type and the
// headers that matter for a batch.
func (c *client) outer() string {
	r := c.rec.resp
	if r == nil {
		return "no answer"
	}
	s := fmt.Sprintf("%d, Content-Type %q", r.StatusCode, r.Header.Get("Content-Type"))
	for _, h := range []string{"OData-Version", "Preference-Applied"} {
		if v := r.Header.Get(h); v != "" {
			s += fmt.Sprintf(", %s %q", h, v)
		} else {
			s += fmt.Sprintf(", no %s", h)
		}
	}
	return s
}

var (
	multipartLine = regexp.MustCompile(`(?i)^content-type:\s*multipart/mixed;\s*boundary=(\S+)$`)
	contentIDLine = regexp.MustCompile(`(?i)^content-id:\s*(.*)$`)
	statusLine    = regexp.MustCompile(`^HTTP/1\.1 (\d{3})`)
)

// answerShape describes the last answer: jsonShape for a JSON batch,
// shape for any other.
func (c *client) answerShape() string {
	if r := c.rec.resp; r != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return c.jsonShape()
	}
	return c.shape()
}

// shape describes the last multipart answer as CAP wrote it, read line by
// line without the codec: each part as "<content-id> <status>", a
// changeset's parts inside "changeset{…}", "-" for a part without
// Content-ID. It also says in which case the
// part header names were written.
func (c *client) shape() string {
	var out []string
	var inner string // the open changeset's boundary
	cid := "-"
	casing := ""
	for _, line := range strings.Split(c.rec.got.String(), "\r\n") {
		switch {
		case inner != "" && line == "--"+inner+"--":
			out = append(out, "}")
			inner = ""
		case multipartLine.MatchString(line):
			inner = multipartLine.FindStringSubmatch(line)[1]
			out = append(out, "changeset{")
		case contentIDLine.MatchString(line):
			cid = contentIDLine.FindStringSubmatch(line)[1]
			if casing == "" {
				casing = strings.SplitN(line, ":", 2)[0]
			}
		case statusLine.MatchString(line):
			out = append(out, fmt.Sprintf("[id %s: %s]", cid, statusLine.FindStringSubmatch(line)[1]))
			cid = "-"
		}
	}
	s := strings.Replace(strings.Join(out, " "), "{ ", "{", -1)
	s = strings.Replace(s, " }", "}", -1)
	if casing != "" {
		s += fmt.Sprintf(" (part headers written %q)", casing)
	}
	return s
}

// jsonShape describes the last JSON answer: each response as
// "<id> <status>", with its atomicityGroup when it has one.
func (c *client) jsonShape() string {
	var doc struct {
		Responses []struct {
			ID             string `json:"id"`
			Status         int    `json:"status"`
			AtomicityGroup string `json:"atomicityGroup"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(c.rec.got.Bytes(), &doc); err != nil {
		return "not a JSON batch: " + excerpt(c.rec.got.Bytes())
	}
	var out []string
	for _, r := range doc.Responses {
		s := fmt.Sprintf("[id %s: %d", r.ID, r.Status)
		if r.AtomicityGroup != "" {
			s += " group " + r.AtomicityGroup
		}
		out = append(out, s+"]")
	}
	return strings.Join(out, " ")
}

// sentJSONShape describes the last JSON batch sent: ids, groups and
// dependsOn.
func (c *client) sentJSONShape() string {
	var doc struct {
		Requests []struct {
			ID             string   `json:"id"`
			Method         string   `json:"method"`
			URL            string   `json:"url"`
			AtomicityGroup string   `json:"atomicityGroup"`
			DependsOn      []string `json:"dependsOn"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(c.rec.sent.Bytes(), &doc); err != nil {
		return "not a JSON batch: " + excerpt(c.rec.sent.Bytes())
	}
	var out []string
	for _, r := range doc.Requests {
		s := fmt.Sprintf("[id %s: %s %s", r.ID, r.Method, r.URL)
		if r.AtomicityGroup != "" {
			s += " group " + r.AtomicityGroup
		}
		if len(r.DependsOn) > 0 {
			s += " dependsOn " + strings.Join(r.DependsOn, ",")
		}
		out = append(out, s+"]")
	}
	return strings.Join(out, " ")
}
