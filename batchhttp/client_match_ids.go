package batchhttp

import "fmt"

// solveIDs pairs by Content-ID a response whose every answer has one, in
// any order (Google answers out of order): an ID names one request not
// answered before; a changeset is answered by all its requests' answers or
// by one failure; the requests without answer must be the last ones, after
// a failure.
func (p *matchPlan) solveIDs(st *orderState, rest []*Answer, mismatch func(answer, request int, detail string) error) (final, err error) {
	by := make([]*Answer, p.n()) // the answer from rest for each request
	done := make([]bool, p.n())  // answered by the fast path
	for gi := 0; gi < st.g; gi++ {
		for i := range p.groups[gi].k {
			done[p.groups[gi].first+i] = true
		}
	}
	if st.g < len(p.groups) {
		for i := range st.j {
			done[p.groups[st.g].first+i] = true
		}
	}
	frameGroup := map[int]int{}
	for _, a := range rest {
		m := a.meta
		i, ok := p.idIndex[m.id]
		if !ok {
			return nil, mismatch(m.n, -1, fmt.Sprintf("answer %d has Content-ID %q, which no request has", m.n, m.id))
		}
		if done[i] || by[i] != nil {
			return nil, mismatch(m.n, i, fmt.Sprintf("answer %d repeats Content-ID %q: request %d is answered already", m.n, m.id, i))
		}
		g := p.groupOf[i]
		if m.frame >= 0 {
			if !p.groups[g].changeset {
				return nil, mismatch(m.n, i, fmt.Sprintf("answer %d is inside a changeset, but request %d is not in one", m.n, i))
			}
			if fg, ok := frameGroup[m.frame]; ok && fg != g {
				return nil, mismatch(m.n, i, fmt.Sprintf("answer %d shares a changeset frame with answers to another changeset", m.n))
			}
			frameGroup[m.frame] = g
		}
		by[i], a.Index, a.Count = a, i, 1
	}
	failed := make([]bool, len(p.groups))
	answered := make([]bool, len(p.groups))
	for gi, grp := range p.groups {
		c, var1 := 0, -1
		for i := grp.first; i < grp.first+grp.k; i++ {
			if done[i] || by[i] != nil {
				c++
				var1 = i
				failed[gi] = failed[gi] || (by[i] != nil && by[i].meta.failed()) || (done[i] && st.failed[gi])
			}
		}
		switch {
		case c == grp.k:
			answered[gi] = true
			frame, seen := 0, false
			if gi == st.g && st.j > 0 { // begun by the fast path
				frame, seen = -1, true
				if st.framed {
					frame = st.groupFrame
				}
			}
			for i := grp.first; i < grp.first+grp.k; i++ {
				if by[i] == nil {
					continue
				}
				if m := by[i].meta; !seen {
					frame, seen = m.frame, true
				} else if m.frame != frame {
					return nil, mismatch(m.n, i, fmt.Sprintf("answer %d is framed differently from the other answers to the changeset of requests %d to %d", m.n, grp.first, grp.first+grp.k-1))
				}
			}
		case c == 0:
		case c == 1 && by[var1] != nil && by[var1].meta.failed():
			by[var1].Index, by[var1].Count = grp.first, grp.k
			answered[gi] = true
		default:
			for i := grp.first; i < grp.first+grp.k; i++ {
				if !done[i] && by[i] == nil {
					return nil, mismatch(-1, i, fmt.Sprintf("request %d%s in a changeset has no answer, though others in it do", i, p.idNote(i)))
				}
			}
		}
	}
	stop := len(p.groups)
	for stop > 0 && !answered[stop-1] {
		stop--
	}
	for gi := 0; gi < stop; gi++ {
		if !answered[gi] {
			i := p.groups[gi].first
			return nil, mismatch(-1, i, fmt.Sprintf("request %d%s has no answer, and requests after it do", i, p.idNote(i)))
		}
	}
	if stop == len(p.groups) {
		return nil, nil
	}
	first := p.groups[stop].first
	if stop == 0 || !failed[stop-1] {
		return nil, mismatch(-1, first, fmt.Sprintf("request %d%s has no answer, and the answer before it did not fail", first, p.idNote(first)))
	}
	return &ResponseError{Err: ErrStopped, Requests: p.n(), Responses: st.read + len(rest), Answer: -1, Request: first,
		Detail: fmt.Sprintf("requests %d to %d did not run", first, p.n()-1)}, nil
}
