package batchhttp

import (
	"errors"
	"fmt"
	"net/http"
)

// This file records which requests depend on which, and checks it once the
// batch is complete: a JSON batch says it in "dependsOn" (OData JSON Format
// 4.01 §19.1), which may name only preceding requests; a multipart batch
// keeps it by its order.

// ErrDependency says that a dependency given with [RequestBatch.DependsOn]
// cannot be written: a request that is not in the batch, or that does not
// come before the request that depends on it; a dependency that
// [RequestBatch.Split] would put in an earlier batch; or, in a multipart
// batch, any dependency with [ContinueOnError].
var ErrDependency = errors.New("batchhttp: invalid dependency")

// DependsOn says that req must run only after each of on has succeeded,
// and not at all if one of them failed. Every request must be in the batch
// when [RequestBatch.NewRequest] is called, and each of on must have been
// added before req: a JSON batch allows no forward reference. A later call
// for the same req adds to its list.
//
// In a JSON batch ([Format]) the dependencies are written as "dependsOn"
// ids: the request's id, or the id of its atomicity group when it is in
// another changeset than req, as the specification requires; a server
// answers the dependent request 424 Failed Dependency when one failed. A
// multipart batch has no such member: its operations run in order and,
// without [ContinueOnError], stop at the first failure, which keeps every
// dependency; with ContinueOnError, NewRequest refuses a batch with
// dependencies rather than drop them.
//
// A request whose target starts with "$<id>" (a reference to the entity an
// earlier request created) depends on that request in a JSON batch without
// saying so.
func (b *RequestBatch) DependsOn(req *http.Request, on ...*http.Request) {
	if len(on) == 0 {
		return
	}
	if b.deps == nil {
		b.deps = make(map[*http.Request][]*http.Request)
	}
	b.deps[req] = append(b.deps[req], on...)
}

// dependencies returns, for each request of the plan, the indices of the
// requests it depends on, in the order given, each once; or an error
// wrapping ErrDependency.
func (b *RequestBatch) dependencies(p *matchPlan) ([][]int, error) {
	if len(b.deps) == 0 {
		return nil, nil
	}
	index := make(map[*http.Request]int, len(p.reqs))
	twice := make(map[*http.Request]bool)
	for i, r := range p.reqs {
		if _, ok := index[r]; ok {
			twice[r] = true
			continue
		}
		index[r] = i
	}
	for req := range b.deps {
		if _, ok := index[req]; !ok {
			return nil, fmt.Errorf("%w: a request given to DependsOn (%s %s) is not in the batch", ErrDependency, req.Method, reqURL(req))
		}
	}
	out := make([][]int, len(p.reqs))
	for i, req := range p.reqs { // in order, so that the first error is reported
		on := b.deps[req]
		if len(on) > 0 && twice[req] {
			return nil, fmt.Errorf("%w: request %d was added more than once, so which one depends is ambiguous", ErrDependency, i)
		}
		for _, d := range on {
			j, ok := index[d]
			switch {
			case !ok:
				return nil, fmt.Errorf("%w: request %d depends on a request (%s %s) that is not in the batch", ErrDependency, i, d.Method, reqURL(d))
			case twice[d]:
				return nil, fmt.Errorf("%w: request %d depends on request %d, which was added more than once", ErrDependency, i, j)
			case j >= i:
				return nil, fmt.Errorf("%w: request %d depends on request %d, which does not come before it", ErrDependency, i, j)
			}
			if !containsInt(out[i], j) {
				out[i] = append(out[i], j)
			}
		}
	}
	return out, nil
}

// splitDeps gives each piece of a split the dependencies of its requests,
// and refuses one that crosses from a piece to another.
func (b *RequestBatch) splitDeps(pieces []*RequestBatch) error {
	if len(b.deps) == 0 {
		return nil
	}
	piece := make(map[*http.Request]int)
	for k, p := range pieces {
		for _, g := range p.groups {
			for _, r := range g.reqs {
				piece[r] = k
			}
		}
	}
	for k, p := range pieces { // in order, so that the first error is reported
		for _, g := range p.groups {
			for _, req := range g.reqs {
				if err := b.splitDep(pieces, piece, k, req); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// splitDep gives piece k the dependencies of req, one of its requests.
func (b *RequestBatch) splitDep(pieces []*RequestBatch, piece map[*http.Request]int, k int, req *http.Request) error {
	on := b.deps[req]
	if len(on) == 0 {
		return nil
	}
	for _, d := range on {
		if kd, ok := piece[d]; ok && kd != k {
			return fmt.Errorf("%w: Split puts %s %s in batch %d and a request it depends on (%s %s) in batch %d",
				ErrDependency, req.Method, reqURL(req), k, d.Method, reqURL(d), kd)
		}
	}
	p := pieces[k]
	if p.deps == nil {
		p.deps = make(map[*http.Request][]*http.Request)
	}
	p.deps[req] = append([]*http.Request(nil), on...)
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// reqURL describes a request's URL for messages.
func reqURL(r *http.Request) string {
	if r.URL == nil {
		return "<nil URL>"
	}
	return quote(r.URL.String())
}
