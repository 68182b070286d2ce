package batchhttp

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file is pass 1 of a JSON batch (OData JSON Format 4.01 §19,
// Microsoft Graph JSON batching): it reads the whole batch and checks ids,
// atomicity groups and dependsOn before anything runs, and makes the plan
// that handler_json_run.go runs.

// jsonPlan is what pass 1 learns of a JSON batch: the units that run, in
// document order.
type jsonPlan struct {
	units []jsonUnit
	ids   []string // of each request
}

// jsonUnit is what runs as one: a request, or the adjacent requests of one
// atomicity group, which succeed or fail together.
type jsonUnit struct {
	group string // the atomicity group, "" for a lone request
	first int    // index of its first request
	n     int    // its requests
	deps  []int  // the earlier units that must succeed before it runs
}

// jsonDecodeOptions are the decoder's options for a JSON batch: its
// defaults, with MaxOperations as the item limit (one more, to tell "too
// many" from a malformed batch).
func (h *handler) jsonDecodeOptions() []jsonbatch.DecodeOption {
	return []jsonbatch.DecodeOption{jsonbatch.MaxItems(h.so.maxOps + 1)}
}

// checkJSON is pass 1 of a JSON batch: it decodes every request and returns
// the plan, or the status and message of the answer that refuses the batch.
// Refused, with nothing run: a document that is not a JSON batch of
// requests; an empty id; two requests with one id, or an id that is also an atomicity
// group's; the requests of one group not adjacent; a dependsOn naming the
// request itself or its own group, a later request (OData forbids forward
// references, which is also what rules out cycles) or nothing at all.
//
// With echo, each id must be one that a multipart answer can echo as a
// Content-ID.
func (h *handler) checkJSON(d *jsonbatch.Decoder, echo bool) (_ *jsonPlan, status int, msg string) {
	plan := new(jsonPlan)
	unitOf := make(map[string]int) // request id → its unit
	groups := make(map[string]int) // atomicity group → its unit
	type unresolved struct {
		item    int
		id, dep string
	}
	var missing *unresolved
	n := 0
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			switch {
			case errors.Is(err, batch.ErrTooManyParts):
				return nil, http.StatusRequestEntityTooLarge, h.tooManyMsg()
			case errors.Is(err, jsonbatch.ErrBodyTooLarge), errors.Is(err, jsonbatch.ErrItemTooLarge):
				return nil, http.StatusRequestEntityTooLarge, err.Error() + "; nothing ran"
			}
			return nil, http.StatusBadRequest, err.Error() + "; nothing ran"
		}
		i := it.Index()
		n++
		where := " (request " + strconv.Itoa(i) + " at offset " + strconv.FormatInt(it.Offset(), 10) + "); nothing ran"
		if it.Message() != batch.Request {
			return nil, http.StatusBadRequest, "batch: the JSON batch holds responses, not requests" + where
		}
		if n > h.so.maxOps {
			return nil, http.StatusRequestEntityTooLarge, h.tooManyMsg()
		}
		id, g := string(it.ID()), string(it.AtomicityGroup())
		if id == "" {
			return nil, http.StatusBadRequest, "batch: a request has an empty id" + where
		}
		if echo {
			op := batch.Operation{Message: batch.Response, StatusCode: http.StatusOK, ContentID: id}
			if err := op.Validate(); err != nil {
				return nil, http.StatusBadRequest, "batch: the id " + quote(id) + " cannot be echoed as a Content-ID in a multipart answer" + where + ": " + err.Error()
			}
		}
		if _, dup := unitOf[id]; dup {
			return nil, http.StatusBadRequest, "batch: two requests have the id " + quote(id) + where
		}
		if _, dup := groups[id]; dup || id == g {
			return nil, http.StatusBadRequest, "batch: the id " + quote(id) + " is also an atomicity group's" + where
		}
		cur := len(plan.units) - 1
		if g == "" || cur < 0 || plan.units[cur].group != g {
			if g != "" {
				if _, seen := groups[g]; seen {
					return nil, http.StatusBadRequest, "batch: the requests of atomicity group " + quote(g) + " are not adjacent" + where
				}
				if _, clash := unitOf[g]; clash {
					return nil, http.StatusBadRequest, "batch: the atomicity group " + quote(g) + " is also a request's id" + where
				}
				groups[g] = len(plan.units)
			}
			plan.units = append(plan.units, jsonUnit{group: g, first: i})
			cur++
		}
		u := &plan.units[cur]
		u.n++
		dependOn := func(v int) {
			if v != cur && !slices.Contains(u.deps, v) {
				u.deps = append(u.deps, v)
			}
		}
		for _, dep := range it.DependsOn() {
			ds := string(dep)
			if ds == id || (g != "" && ds == g) {
				return nil, http.StatusBadRequest, "batch: request " + quote(id) + " depends on itself" + where
			}
			if v, ok := groups[ds]; ok {
				dependOn(v)
			} else if v, ok := unitOf[ds]; ok {
				dependOn(v) // within its own group, order is enough
			} else if missing == nil {
				missing = &unresolved{i, id, ds}
			}
		}
		// A url starting with "$<id>" uses that request's answer: it
		// depends on it, whether or not dependsOn says so.
		if ref := refID(string(it.URL())); ref != "" {
			if v, ok := unitOf[ref]; ok {
				dependOn(v)
			}
		}
		unitOf[id] = cur
		plan.ids = append(plan.ids, id)
	}
	if m := missing; m != nil {
		what := "which no request or atomicity group of the batch has"
		_, isID := unitOf[m.dep]
		if _, isGroup := groups[m.dep]; isID || isGroup {
			what = "which comes later: dependsOn names only preceding requests"
		}
		return nil, http.StatusBadRequest, "batch: request " + quote(m.id) + " depends on " + quote(m.dep) + ", " + what +
			" (request " + strconv.Itoa(m.item) + "); nothing ran"
	}
	return plan, 0, ""
}

// refID returns the id that a url starting with "$<id>" refers to, or "".
func refID(url string) string {
	if !strings.HasPrefix(url, "$") {
		return ""
	}
	end := strings.IndexAny(url, "/?")
	if end < 0 {
		end = len(url)
	}
	return url[1:end]
}

func (h *handler) tooManyMsg() string {
	return "batch: the batch holds more than " + strconv.Itoa(h.so.maxOps) +
		" operations, the most this server runs in one batch; nothing ran: split it into smaller batches"
}

// jsonTarget returns the target a JSON batch's url means, for
// [ResolveTarget]. OData resolves a path with a leading "/" against the
// host, but Microsoft Graph and its clients, and SAP CAP, write one
// relative to the service root ("/me/events" in a batch sent to
// "/v1.0/$batch"); so a leading-"/" path is host-absolute when it starts
// with the service root's path and service-relative otherwise.
func jsonTarget(url, root string) string {
	if !strings.HasPrefix(url, "/") || strings.HasPrefix(url, "//") || strings.HasPrefix(url, root) {
		return url
	}
	return root + url[1:]
}

// serviceRoot returns the path of the service root of a batch sent to
// path: the path up to and with its last "/".
func serviceRoot(path string) string {
	return path[:strings.LastIndexByte(path, '/')+1]
}

// answerJSON reports whether the batch is answered in JSON: when the
// batch request's Accept prefers application/json to multipart/mixed (SAP
// CAP answers so), or the other way round; in the request's own format
// (isJSON) when it prefers neither.
func answerJSON(h http.Header, isJSON bool) bool {
	qJSON, qMultipart := -1.0, -1.0
	for _, line := range h.Values("Accept") {
		for _, r := range strings.Split(line, ",") {
			mt, params, _ := strings.Cut(r, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			if strings.Contains(strings.ToLower(params), "odata=") {
				continue // "odata=verbose": OData V2/V3's JSON, which has no JSON batch
			}
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/json":
				qJSON = max(qJSON, q)
			case "multipart/mixed":
				qMultipart = max(qMultipart, q)
			}
		}
	}
	switch {
	case qJSON > qMultipart && qJSON > 0:
		return true
	case qMultipart > qJSON && qMultipart > 0:
		return false
	}
	return isJSON
}

// odataVersion returns the OData version the batch request says it speaks
// (OData-Version, else OData-MaxVersion), "" if it says none: Microsoft
// Graph's clients send neither.
func odataVersion(h http.Header) string {
	v := strings.TrimSpace(headerValue(h, "Odata-Version"))
	if v == "" {
		v = strings.TrimSpace(headerValue(h, "Odata-Maxversion"))
	}
	return v
}

// odata401 reports whether the batch request with these versions says it
// speaks OData 4.01 or later, the first version with JSON batches.
func (vs versions) odata401() bool {
	v := strings.TrimSpace(vs.odata)
	if v == "" {
		v = strings.TrimSpace(vs.odataMax)
	}
	if v == "" {
		return false // without strconv's errors, which allocate
	}
	major, minor, _ := strings.Cut(v, ".")
	m, err1 := strconv.Atoi(major)
	n, err2 := strconv.Atoi(minor)
	return err1 == nil && err2 == nil && (m > 4 || m == 4 && n >= 1)
}
