package batchhttp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// This file is the Microsoft Graph JSON batch of a [Transport]
// ([DialectGraph]), written and read with encoding/json:
//
//	{"requests":[{"id":"1","method":"GET","url":"/me/messages/1","headers":{…},"body":…}]}
//	{"responses":[{"id":"1","status":200,"headers":{…},"body":…}]}

// trGraphRequest is one request of a Graph JSON batch.
type trGraphRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// trGraphResponse is one answer of a Graph JSON batch.
type trGraphResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// errGraphBody: a body the Graph dialect cannot carry (no Content-Type, or
// a JSON media type with a body that is not JSON).
var errGraphBody = errors.New("batch: body cannot be written into a JSON batch")

// isJSONType reports whether a Content-Type value is application/json or
// a +json type.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// graphRequest converts c's request, or fails with errGraphBody.
func (t *Transport) graphRequest(c *trCall) (trGraphRequest, error) {
	r := c.req
	g := trGraphRequest{ID: c.id, Method: r.Method, URL: "/" + strings.TrimPrefix(r.URL.EscapedPath(), t.scope)}
	if g.Method == "" {
		g.Method = http.MethodGet
	}
	if r.URL.RawQuery != "" {
		g.URL += "?" + r.URL.RawQuery
	}
	for k, vs := range r.Header {
		switch textproto.CanonicalMIMEHeaderKey(k) {
		case "Authorization", "Content-Length", "Content-Id", "Connection", "Transfer-Encoding":
			continue
		}
		if g.Headers == nil {
			g.Headers = make(map[string]string, len(r.Header))
		}
		g.Headers[k] = strings.Join(vs, ", ")
	}
	if len(c.body) == 0 {
		return g, nil
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case ct == "":
		return g, errGraphBody
	case isJSONType(ct):
		if !json.Valid(c.body) {
			return g, errGraphBody
		}
		g.Body = c.body
	case strings.HasPrefix(strings.ToLower(ct), "text/"):
		g.Body, _ = json.Marshal(string(c.body))
	default:
		g.Body, _ = json.Marshal(base64.StdEncoding.EncodeToString(c.body))
	}
	return g, nil
}

// encodeGraph writes the batch as JSON; a request it cannot carry is left
// out and sent alone.
func (b *trBatch) encodeGraph() ([]byte, error) {
	reqs := make([]trGraphRequest, 0, len(b.calls))
	kept := b.calls[:0:0]
	for i, c := range b.calls {
		c.id = strconv.Itoa(i + 1)
		g, err := b.t.graphRequest(c)
		if err != nil {
			b.detach(c)
			b.t.wg.Add(1)
			go b.alone(c)
			continue
		}
		reqs = append(reqs, g)
		kept = append(kept, c)
	}
	b.calls = kept
	return json.Marshal(struct {
		Requests []trGraphRequest `json:"requests"`
	}{reqs})
}

// readGraph decodes the JSON answer one response at a time and hands each
// to its caller as it is decoded; at most one response is held.
func (b *trBatch) readGraph(resp *http.Response, st *BatchStats) error {
	byID := make(map[string]*trCall, len(b.calls))
	for _, c := range b.calls {
		byID[c.id] = c
	}
	dec := json.NewDecoder(resp.Body)
	fail := func(err error) error { return fmt.Errorf("batch: reading the JSON batch answer: %w", err) }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail(errors.Join(err, errors.New("not a JSON object")))
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if key != "responses" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return fail(errors.Join(err, errors.New(`"responses" is not an array`)))
		}
		for dec.More() {
			var g trGraphResponse
			if err := dec.Decode(&g); err != nil {
				return fail(err)
			}
			c := byID[g.ID]
			delete(byID, g.ID)
			if c == nil {
				st.Dropped++
				continue
			}
			if c.deliver(graphResponse(&g, c.req), nil) {
				st.Answered++
			} else {
				st.Dropped++
			}
		}
		if _, err := dec.Token(); err != nil {
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	return nil
}

// graphResponse converts one JSON answer for req: a JSON body as its
// bytes; a string body as its text for a text/* media type, else
// base64-decoded (Graph's form for binary bodies) when it decodes.
func graphResponse(g *trGraphResponse, req *http.Request) *http.Response {
	h := make(http.Header, len(g.Headers))
	for k, v := range g.Headers {
		h.Set(k, v)
	}
	var body []byte
	switch raw := bytes.TrimSpace(g.Body); {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"' && !isJSONType(h.Get("Content-Type")):
		var s string
		_ = json.Unmarshal(raw, &s)
		body = []byte(s)
		if !strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/") {
			if d, err := base64.StdEncoding.DecodeString(s); err == nil {
				body = d
			}
		}
	default:
		body = raw
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	return &http.Response{
		Status:        strconv.Itoa(g.Status) + " " + http.StatusText(g.Status),
		StatusCode:    g.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
