package batchhttp

import (
	"fmt"
	"net/http"
	"strconv"
)

// This file pairs answers with requests. The reader's fast path (orderState)
// pairs an answer by order the moment it is read, when nothing else could
// be meant. Anything else (a failure that may stand for a whole changeset,
// a Content-ID that disagrees with the order, a frame where none belongs,
// the end of the answers before the end of the requests) hands the rest of
// the response to solve, which finds every pairing consistent with what the
// server said and accepts only a unique one.

// matchPlan is the request side of the pairing.
type matchPlan struct {
	reqs    []*http.Request
	ids     []string
	groups  []planGroup
	groupOf []int          // request index → group index
	idIndex map[string]int // Content-ID → request index
}

// planGroup is a top-level request (k == 1, !changeset) or a changeset of
// k requests starting at first.
type planGroup struct {
	first, k  int
	changeset bool
}

// answerMeta is what pairing needs of an answer.
type answerMeta struct {
	n      int // 0-based place among the answers
	id     string
	hasID  bool
	status int
	frame  int // changeset frame it arrived in, -1 at top level
}

func (m answerMeta) failed() bool { return m.status >= 400 }

// note describes an answer's Content-ID for messages.
func (m answerMeta) note() string {
	if !m.hasID {
		return ""
	}
	return " (Content-ID " + strconv.Quote(m.id) + ")"
}

// matchPlan returns the pairing's view of b, built once after the last Add.
func (b *RequestBatch) matchPlan() *matchPlan {
	if p := b.plan.Load(); p != nil {
		return p
	}
	p := &matchPlan{reqs: b.Requests(), ids: b.contentIDs(), idIndex: make(map[string]int, b.n)}
	for gi, g := range b.groups {
		p.groups = append(p.groups, planGroup{first: len(p.groupOf), k: len(g.reqs), changeset: g.changeset})
		for range g.reqs {
			p.groupOf = append(p.groupOf, gi)
		}
	}
	for i, id := range p.ids {
		p.idIndex[id] = i
	}
	b.plan.Store(p)
	return p
}

func (p *matchPlan) n() int { return len(p.reqs) }

// idNote describes request i's Content-ID for messages.
func (p *matchPlan) idNote(i int) string {
	return " (Content-ID " + strconv.Quote(p.ids[i]) + ")"
}

// orderState is the fast path: answers paired by order as they are read.
// Requests before group g, and the first j of group g, are answered.
type orderState struct {
	g, j       int
	framed     bool // group g is being answered inside a frame
	groupFrame int  // that frame
	inFrame    bool // a frame is open in the answer
	empty      bool // the open frame has had no answer
	read       int  // answers paired
	allIDs     bool // every answer paired so far had a Content-ID
	failed     []bool
}

// done reports whether every request is answered.
func (s *orderState) done(p *matchPlan) bool { return s.g == len(p.groups) && s.j == 0 }

// expect returns the request order gives the next answer to, -1 if none.
func (s *orderState) expect(p *matchPlan) int {
	if s.g >= len(p.groups) || s.j >= p.groups[s.g].k {
		return -1
	}
	return p.groups[s.g].first + s.j
}

// frameStart reports whether a changeset frame may start here: at the
// start of a changeset.
func (s *orderState) frameStart(p *matchPlan, frame int) bool {
	if s.g >= len(p.groups) || !p.groups[s.g].changeset || s.j != 0 {
		return false
	}
	s.inFrame, s.empty, s.groupFrame = true, true, frame
	return true
}

// frameEnd reports whether the frame ends its changeset's answers.
func (s *orderState) frameEnd(p *matchPlan) bool {
	s.inFrame = false
	if s.empty || !s.framed || s.j != p.groups[s.g].k {
		return false
	}
	s.g, s.j, s.framed = s.g+1, 0, false
	return true
}

// fast pairs m by order if nothing else could be meant, and returns the
// request's index.
func (s *orderState) fast(p *matchPlan, m answerMeta) (int, bool) {
	if s.g >= len(p.groups) {
		return -1, false
	}
	grp := p.groups[s.g]
	in := m.frame >= 0
	if s.read == 0 && !in && !m.hasID && m.failed() && len(p.groups) > 1 {
		return -1, false // maybe the batch failing as a whole
	}
	if !grp.changeset {
		if in {
			return -1, false
		}
		if m.hasID && m.id != p.ids[grp.first] {
			return -1, false
		}
		s.accept(p, m)
		s.g++
		return grp.first, true
	}
	if s.j == 0 {
		if grp.k > 1 && m.failed() {
			return -1, false // one request's answer, or the whole changeset's?
		}
		s.framed = in
	} else if s.framed != in || s.j == grp.k {
		return -1, false
	}
	i := grp.first + s.j
	if m.hasID && m.id != p.ids[i] {
		return -1, false
	}
	s.accept(p, m)
	s.empty = false
	s.j++
	if s.j == grp.k && !in {
		s.g, s.j = s.g+1, 0
	}
	return i, true
}

// ambiguous reports whether m, which fast did not pair, is a failure at the
// start of a changeset of several requests: the whole changeset's answer,
// or its first request's.
func (s *orderState) ambiguous(p *matchPlan, m answerMeta) bool {
	if s.g >= len(p.groups) || s.j != 0 || !m.failed() {
		return false
	}
	grp := p.groups[s.g]
	return grp.changeset && grp.k > 1 && (m.frame < 0 || s.inFrame && m.frame == s.groupFrame)
}

// acceptWhole pairs m with the whole of group g, which it failed.
func (s *orderState) acceptWhole(p *matchPlan, m answerMeta) {
	s.accept(p, m)
	s.g, s.j, s.framed, s.inFrame = s.g+1, 0, false, false
}

func (s *orderState) accept(p *matchPlan, m answerMeta) {
	if s.failed == nil {
		s.failed = make([]bool, len(p.groups))
	}
	s.failed[s.g] = s.failed[s.g] || m.failed()
	s.allIDs = s.allIDs && m.hasID
	s.read++
}

// solve pairs the buffered answers rest, which follow those the fast path
// paired (st), setting each one's Index and Count. It returns the error to
// report after them (ErrStopped, or nil), or the error that stops the
// pairing: ErrBatchFailed or ErrMismatch.
func (p *matchPlan) solve(st *orderState, rest []*Answer, read int) (final, err error) {
	mismatch := func(answer, request int, detail string) error {
		return &ResponseError{Err: ErrMismatch, Requests: p.n(), Responses: read, Answer: answer, Request: request, Detail: detail}
	}
	if st.read == 0 && len(rest) == 1 && len(p.groups) > 1 {
		if m := rest[0].meta; !m.hasID && m.frame < 0 && m.failed() {
			return nil, &ResponseError{Err: ErrBatchFailed, Requests: p.n(), Responses: 1, Answer: 0, Request: -1}
		}
	}
	o := &orderSolver{p: p, rest: rest, memo: map[[3]int]int{}, best: -2}
	lf := st.g > 0 && st.failed[st.g-1]
	count := o.start(st, lf)
	if count == 1 {
		return o.assign(st, lf), nil
	}
	allIDs := st.allIDs
	for _, a := range rest {
		allIDs = allIDs && a.meta.hasID
	}
	if allIDs {
		return p.solveIDs(st, rest, mismatch)
	}
	if count > 1 {
		return nil, mismatch(o.amb.answer, o.amb.request, o.amb.detail)
	}
	return nil, mismatch(o.why.answer, o.why.request, o.why.detail)
}

// orderSolver counts the pairings by order that fit the answers: at each
// changeset, its answers one by one, or one failure standing for all of it;
// and at the end, every request answered, or the server stopped after a
// failure.
type orderSolver struct {
	p    *matchPlan
	rest []*Answer
	memo map[[3]int]int
	best int // the furthest answer at which a pairing failed
	why  reason
	amb  *reason
}

type reason struct {
	answer, request int
	detail          string
}

// fail records why a pairing failed at answer a, keeping the furthest.
func (o *orderSolver) fail(a, request int, detail string) {
	if a > o.best {
		o.best = a
		n := -1
		if a < len(o.rest) {
			n = o.rest[a].meta.n
		}
		o.why = reason{n, request, detail}
	}
}

// option is one way to pair the answers at a point: the group pairs with
// answers [a, next), and pairing goes on at group g+1.
type option struct {
	next  int
	whole bool
	lf    bool
}

// start counts the pairings from the fast path's state: the rest of a
// changeset the fast path began, then the groups after it.
func (o *orderSolver) start(st *orderState, lf bool) int {
	if st.j == 0 {
		return o.count(st.g, 0, lf)
	}
	frame := -1
	if st.framed {
		frame = st.groupFrame
	}
	next, failed, ok := o.members(st.g, st.j, 0, frame)
	if !ok {
		return 0
	}
	return o.count(st.g+1, next, failed || st.failed[st.g])
}

// count returns the number of pairings of answers [a:] with groups [g:],
// 0, 1 or 2 (meaning two or more); lf says whether the group before g
// failed.
func (o *orderSolver) count(g, a int, lf bool) int {
	key := [3]int{g, a, 0}
	if lf {
		key[2] = 1
	}
	if v, ok := o.memo[key]; ok {
		return v
	}
	total := 0
	opts := o.options(g, a, lf)
	var counts [2]int
	for i, op := range opts {
		if op.next < 0 {
			total++
			continue
		}
		counts[i] = o.count(g+1, op.next, op.lf)
		total += counts[i]
	}
	if len(opts) == 2 && counts[0] > 0 && counts[1] > 0 && (o.amb == nil || o.rest[a].meta.n < o.amb.answer) {
		grp := o.p.groups[g]
		o.amb = &reason{o.rest[a].meta.n, grp.first, fmt.Sprintf(
			"answer %d (%d) may answer request %d alone or its whole changeset (requests %d to %d), and both pairings fit the rest; echo Content-IDs to tell",
			o.rest[a].meta.n, o.rest[a].meta.status, grp.first, grp.first, grp.first+grp.k-1)}
	}
	total = min(total, 2)
	o.memo[key] = total
	return total
}

// options lists the ways group g can take answers [a:]. An option with
// next < 0 ends the pairing there (complete, or stopped).
func (o *orderSolver) options(g, a int, lf bool) []option {
	p := o.p
	if a == len(o.rest) {
		if g == len(p.groups) || lf {
			return []option{{next: -1}}
		}
		i := p.groups[g].first
		o.fail(a, i, fmt.Sprintf("request %d%s has no answer, and the answer before it did not fail", i, p.idNote(i)))
		return nil
	}
	m := o.rest[a].meta
	if g == len(p.groups) {
		o.fail(a, -1, fmt.Sprintf("answer %d%s is more than the %d requests have", m.n, m.note(), p.n()))
		return nil
	}
	grp := p.groups[g]
	if !grp.changeset {
		if m.frame >= 0 {
			o.fail(a, grp.first, fmt.Sprintf("answer %d is inside a changeset, but by order it answers request %d, which is not in one", m.n, grp.first))
			return nil
		}
		if !o.idOK(a, grp.first) {
			return nil
		}
		return []option{{next: a + 1, lf: m.failed()}}
	}
	var out []option
	if next, failed, ok := o.members(g, 0, a, m.frame); ok {
		out = append(out, option{next: next, lf: failed})
	}
	if grp.k > 1 && m.failed() && o.inGroup(m, g) {
		if m.frame < 0 || a+1 == len(o.rest) || o.rest[a+1].meta.frame != m.frame {
			out = append(out, option{next: a + 1, whole: true, lf: true})
		}
	}
	return out
}

// members checks that answers [a:] begin with one answer for each request
// of group g from its j-th, in frame (-1 for none, and then the frame
// must end after them), and returns where they end and whether one failed.
func (o *orderSolver) members(g, j, a, frame int) (next int, failed, ok bool) {
	grp := o.p.groups[g]
	for i := grp.first + j; i < grp.first+grp.k; i, a = i+1, a+1 {
		if a == len(o.rest) {
			o.fail(a, i, fmt.Sprintf("request %d%s in a changeset has no answer, though others in it do", i, o.p.idNote(i)))
			return 0, false, false
		}
		m := o.rest[a].meta
		if m.frame != frame {
			o.fail(a, i, fmt.Sprintf("answer %d is framed differently from the answers before it in the changeset of requests %d to %d", m.n, grp.first, grp.first+grp.k-1))
			return 0, false, false
		}
		if !o.idOK(a, i) {
			return 0, false, false
		}
		failed = failed || m.failed()
	}
	if frame >= 0 && a < len(o.rest) && o.rest[a].meta.frame == frame {
		o.fail(a, -1, fmt.Sprintf("answer %d is one more than the %d requests of the changeset in its frame", o.rest[a].meta.n, grp.k))
		return 0, false, false
	}
	return a, failed, true
}

// inGroup reports whether m may stand for group g: it has no Content-ID
// or that of one of g's requests.
func (o *orderSolver) inGroup(m answerMeta, g int) bool { return o.p.inGroup(m, g) }

// inGroup reports whether m may stand for group g: it has no Content-ID
// or that of one of g's requests.
func (p *matchPlan) inGroup(m answerMeta, g int) bool {
	if !m.hasID {
		return true
	}
	i, ok := p.idIndex[m.id]
	return ok && p.groupOf[i] == g
}

// idOK checks answer a's Content-ID, if any, against request i's.
func (o *orderSolver) idOK(a, i int) bool {
	m := o.rest[a].meta
	if !m.hasID || m.id == o.p.ids[i] {
		return true
	}
	o.fail(a, i, fmt.Sprintf("answer %d has Content-ID %q, but by order it answers request %d, whose Content-ID is %q", m.n, m.id, i, o.p.ids[i]))
	return false
}

// assign walks the one pairing and sets each answer's Index and Count; it
// returns ErrStopped when it ends before the requests do.
func (o *orderSolver) assign(st *orderState, lf bool) error {
	p := o.p
	g, a := st.g, 0
	if st.j > 0 {
		grp := p.groups[g]
		for i := grp.first + st.j; i < grp.first+grp.k; i++ {
			o.rest[a].Index, o.rest[a].Count = i, 1
			a++
		}
		lf = lf || st.failed[g]
		for _, x := range o.rest[:a] {
			lf = lf || x.meta.failed()
		}
		g++
	}
	for a < len(o.rest) {
		for _, op := range o.options(g, a, lf) {
			if op.next < 0 || o.count(g+1, op.next, op.lf) == 0 {
				continue
			}
			grp := p.groups[g]
			switch {
			case op.whole:
				o.rest[a].Index, o.rest[a].Count = grp.first, grp.k
			default:
				for k := range op.next - a {
					o.rest[a+k].Index, o.rest[a+k].Count = grp.first+k, 1
				}
			}
			a, lf = op.next, op.lf
			break
		}
		g++
	}
	if g < len(p.groups) {
		first := p.groups[g].first
		return &ResponseError{Err: ErrStopped, Requests: p.n(), Responses: st.read + len(o.rest), Answer: -1, Request: first,
			Detail: fmt.Sprintf("requests %d to %d did not run", first, p.n()-1)}
	}
	return nil
}
