package batchhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file writes the outer request as a JSON batch ([FormatJSON],
// [FormatGraph]) with jsonbatch's encoder. Unlike the multipart batch, it is
// encoded whole by NewRequest: a JSON item holds its body escaped or in
// base64, so its length is known only once written, and one Content-Length
// (which Graph and SAP CAP expect) needs the whole document. Graph caps a
// batch at 20 requests, so this costs little where JSON batches are used.

// newJSONRequest is NewRequest for the JSON formats.
func (b *RequestBatch) newJSONRequest(ctx context.Context, endpoint string, o *clientConfig) (req *http.Request, err error) {
	reqs := b.Requests()
	next := 0 // the requests before it have had their bodies read
	defer func() {
		if err != nil {
			for _, r := range reqs[next:] {
				if hasBody(r) {
					r.Body.Close()
				}
			}
		}
	}()
	if err := o.checkJSON(b); err != nil {
		return nil, err
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	plan := b.matchPlan()
	deps, err := b.dependencies(plan)
	if err != nil {
		return nil, err
	}
	dialect := jsonbatch.OData
	if o.format == FormatGraph {
		dialect = jsonbatch.Graph
	}
	var buf bytes.Buffer
	enc, err := jsonbatch.NewEncoder(&buf, batch.Request, jsonbatch.WithDialect(dialect))
	if err != nil {
		return nil, err
	}
	groupIDs := jsonGroupIDs(plan)
	for i, r := range reqs {
		op := jsonbatch.Operation{Message: batch.Request, ID: plan.ids[i], Method: r.Method, AtomicityGroup: groupIDs[plan.groupOf[i]]}
		if op.Method == "" {
			op.Method = http.MethodGet
		}
		if op.URL, err = o.jsonURL(base, r); err != nil {
			return nil, fmt.Errorf("batchhttp: request %d: %w", i, err)
		}
		op.DependsOn = jsonDependsOn(plan, groupIDs, i, deps, op.URL)
		op.Header = jsonFields(r.Header)
		next = i + 1
		if hasBody(r) {
			op.Body, err = io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("batchhttp: reading the body of request %d: %w", i, err)
			}
			if len(op.Body) == 0 {
				op.Body = nil
			}
		}
		if err := enc.WriteOperation(&op); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, err
	}
	o.setOuter(req.Header, "application/json", "application/json")
	return req, nil
}

// checkJSON refuses what a JSON batch in o's format cannot say, or options
// it would ignore.
func (o *clientConfig) checkJSON(b *RequestBatch) error {
	switch {
	case len(o.enc) > 0:
		return fmt.Errorf("batchhttp: option Encoding configures the multipart encoder, and a %v batch is JSON", o.format)
	case o.targets == TargetHostRelative:
		return errors.New("batchhttp: Targets(TargetHostRelative) has no JSON form: a url with a leading \"/\" is read against the host by OData and against the service root by Graph and SAP CAP")
	case o.format == FormatGraph && o.targets != 0:
		return errors.New("batchhttp: option Targets does not apply to FormatGraph, whose urls are always relative to the version root")
	case o.format != FormatGraph:
		return nil
	case b.n > GraphMaxRequests:
		return fmt.Errorf("batchhttp: %d requests, and Microsoft Graph accepts at most %d in one batch; cut it with RequestBatch.Split(GraphMaxRequests)", b.n, GraphMaxRequests)
	}
	for _, g := range b.groups {
		if g.changeset {
			return errors.New("batchhttp: Microsoft Graph JSON batches have no atomicity groups: add the requests with Add, not AddChangeset")
		}
	}
	return nil
}

// jsonURL returns r's url in o's format: relative to the service root (the
// batch URL without "$batch") as [TargetServiceRelative] writes it, or
// absolute ([TargetAbsolute]); for Graph, relative to the version root
// with a leading "/", as Graph and its clients write it.
func (o *clientConfig) jsonURL(base *url.URL, r *http.Request) (string, error) {
	if r.URL == nil {
		return "", errors.New("nil URL")
	}
	form := o.targets
	if form == 0 {
		form = TargetServiceRelative
	}
	target, _ := requestTarget(base, r, form)
	if o.format != FormatGraph {
		return target, nil
	}
	if u, err := url.Parse(target); err != nil || u.IsAbs() {
		return "", fmt.Errorf("%s is not under the batch URL's version root, and Microsoft Graph takes only urls relative to it", quote(target))
	}
	if rest, ok := strings.CutPrefix(target, "./"); ok { // dotSegment's: a leading "/" does the same
		return "/" + rest, nil
	}
	return "/" + target, nil
}

// jsonGroupIDs returns the atomicity group id of each group of the plan, ""
// for a top-level request: "g1", "g2", … counting changesets, or the next
// free name when a request's id takes one, as ids and group ids share one
// namespace. The reader computes the same names to read an answer that
// stands for a whole group.
func jsonGroupIDs(p *matchPlan) []string {
	out := make([]string, len(p.groups))
	n := 0
	used := make(map[string]bool)
	for gi, g := range p.groups {
		if !g.changeset {
			continue
		}
		for {
			n++
			id := "g" + strconv.Itoa(n)
			if _, isReq := p.idIndex[id]; !isReq && !used[id] {
				out[gi], used[id] = id, true
				break
			}
		}
	}
	return out
}

// jsonDependsOn returns the "dependsOn" of request i: for each request it
// depends on (deps[i], and one its url refers to with "$<id>"), its id, or
// its group's id when it is in another atomicity group (OData JSON Format
// 4.01 §19.1: "If a request depends on another request that is part of a
// different atomicity group, the atomicity group MUST be listed").
func jsonDependsOn(p *matchPlan, groupIDs []string, i int, deps [][]int, target string) []string {
	var on []int
	if deps != nil {
		on = deps[i]
	}
	if ref, ok := strings.CutPrefix(target, "$"); ok {
		ref, _, _ = strings.Cut(ref, "/")
		if j, ok := p.idIndex[ref]; ok && j < i && !containsInt(on, j) {
			on = append(on[:len(on):len(on)], j)
		}
	}
	var out []string
	for _, j := range on {
		id := p.ids[j]
		if g := p.groupOf[j]; g != p.groupOf[i] && groupIDs[g] != "" {
			id = groupIDs[g]
		}
		if !containsString(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// jsonFields returns the headers of a JSON item: r's, sorted, without
// those the JSON item has no use for (Content-ID is its id; Content-Length,
// Host and the hop-by-hop headers describe a message the item is not).
func jsonFields(h http.Header) []batch.Field {
	fields := sortedFields(h, nil)
	out := fields[:0]
	for _, f := range fields {
		switch http.CanonicalHeaderKey(f.Name) {
		case "Content-Length", "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade":
			continue
		}
		out = append(out, f)
	}
	return out
}
