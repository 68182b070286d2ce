package jsonbatch

import (
	"bytes"
	"encoding/base64"

	"github.com/batchcodec/batch"
)

// sspan is the contents of a string in the item's bytes, between its
// quotes; esc says whether it holds escapes to decode.
type sspan struct {
	s, e int
	esc  bool
}

// itemScan is what the parser picks out of one item object: spans into the
// item's bytes, views built from them once the item is complete.
type itemScan struct {
	has     uint16 // members present
	seen    uint16 // members named, null or not
	id      sspan
	method  sspan
	url     sspan
	ifx     sspan
	group   sspan
	status  int
	hdr     []sspan // name, value, name, value...
	deps    []sspan
	bodyS   int // the body's JSON value: b[bodyS:bodyE]
	bodyE   int
	bodyStr sspan // its contents when the value is a string
	isStr   bool
	escLen  int // bytes of strings with escapes, to reserve scratch
	end     int // the item's length: b[:end] is the object
}

// Members of an item, one bit each.
const (
	mID uint16 = 1 << iota
	mMethod
	mURL
	mIf
	mGroup
	mStatus
	mHeaders
	mDeps
	mBody
	mNull // a known member whose value is null: absent
)

// memberBit maps a member name to its bit; 0 for a member that is skipped.
// Method, url, if and dependsOn belong to requests, status to responses.
func memberBit(name []byte, msg batch.MessageKind) uint16 {
	switch string(name) {
	case "id":
		return mID
	case "atomicityGroup":
		return mGroup
	case "headers":
		return mHeaders
	case "body":
		return mBody
	}
	if msg == batch.Request {
		switch string(name) {
		case "method":
			return mMethod
		case "url":
			return mURL
		case "if":
			return mIf
		case "dependsOn":
			return mDeps
		}
	} else {
		if string(name) == "status" {
			return mStatus
		}
	}
	return 0
}

// parseItem parses the item object that b starts with, at input offset off,
// and fills d.item; d.sc.end is then the object's length. It returns
// errNeedMore, unwrapped, when b ends inside the item, and a
// *batch.SyntaxError for anything else.
func (d *Decoder) parseItem(b []byte, off int64) (*Item, error) {
	sc := &d.sc
	*sc = itemScan{hdr: sc.hdr[:0], deps: sc.deps[:0]}
	p := parser{b: b, maxDepth: d.opts.maxDepth}
	fail := func() (*Item, error) {
		if p.err == errNeedMore {
			return nil, errNeedMore
		}
		return nil, d.errorAt(off+int64(p.off), p.err, p.detail)
	}
	invalid := func(at int, detail string) (*Item, error) {
		return nil, d.errorAt(off+int64(at), ErrInvalidItem, detail)
	}
	p.enter()
	p.ws()
	if p.i < len(b) && b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.ws()
			if p.i >= len(b) || b[p.i] != '"' {
				p.unexpected("a member name")
				return fail()
			}
			nameAt := p.i
			s, e, esc, ok := p.str()
			if !ok {
				return fail()
			}
			name := b[s:e]
			if esc {
				d.name = unescape(d.name[:0], name)
				name = d.name
			}
			if !p.expect(':', "':'") {
				return fail()
			}
			p.ws()
			bit := memberBit(name, d.msg)
			if bit != 0 && sc.seen&bit != 0 {
				return invalid(nameAt, "member "+quoteName(name)+" repeated")
			}
			sc.seen |= bit
			vAt := p.i
			if p.i < len(b) && b[p.i] == 'n' && bit != 0 {
				// null: the member is absent.
				if !p.literal("null") {
					return fail()
				}
				bit = mNull
			}
			switch bit {
			case mNull:
				bit = 0
			case 0:
				if !p.value() {
					return fail()
				}
			case mID, mMethod, mURL, mIf, mGroup:
				var sp *sspan
				switch bit {
				case mID:
					sp = &sc.id
				case mMethod:
					sp = &sc.method
				case mURL:
					sp = &sc.url
				case mIf:
					sp = &sc.ifx
				default:
					sp = &sc.group
				}
				if ok, err := d.stringValue(&p, sp); !ok {
					if err != "" {
						return invalid(vAt, "member "+quoteName(name)+" "+err)
					}
					return fail()
				}
			case mStatus:
				if p.i >= len(b) || b[p.i] != '-' && (b[p.i] < '0' || b[p.i] > '9') {
					if !p.value() {
						return fail()
					}
					return invalid(vAt, `member "status" is not a number`)
				}
				if !p.number() {
					return fail()
				}
				num := b[vAt:p.i]
				if len(num) != 3 || num[0] < '1' || num[1] < '0' || num[1] > '9' || num[2] < '0' || num[2] > '9' {
					return invalid(vAt, "status "+string(num)+" is not an integer from 100 to 999")
				}
				sc.status = int(num[0]-'0')*100 + int(num[1]-'0')*10 + int(num[2]-'0')
			case mHeaders:
				if p.i >= len(b) || b[p.i] != '{' {
					if !p.value() {
						return fail()
					}
					return invalid(vAt, `member "headers" is not an object`)
				}
				if at, detail, ok := d.headers(&p); !ok {
					if detail != "" {
						return nil, d.errorAt(off+int64(at), d.hdrErr, detail)
					}
					return fail()
				}
			case mDeps:
				if p.i >= len(b) || b[p.i] != '[' {
					if !p.value() {
						return fail()
					}
					return invalid(vAt, `member "dependsOn" is not an array`)
				}
				if at, detail, ok := d.dependsOn(&p); !ok {
					if detail != "" {
						return invalid(at, detail)
					}
					return fail()
				}
			case mBody:
				if p.i < len(b) && b[p.i] == '"' {
					s, e, esc, ok := p.str()
					if !ok {
						return fail()
					}
					sc.bodyStr, sc.isStr = sspan{s, e, esc}, true
				} else if !p.value() {
					return fail()
				}
				sc.bodyS, sc.bodyE = vAt, p.i
				if p.i-vAt > d.opts.maxBody {
					return nil, d.errorAt(off+int64(vAt), ErrBodyTooLarge, "longer than MaxBodyBytes")
				}
			}
			sc.has |= bit
			if more, ok := p.next('}'); !ok {
				return fail()
			} else if !more {
				break
			}
		}
	}
	sc.end = p.i
	if sc.has&mID == 0 {
		return invalid(0, `item without "id"`)
	}
	if d.msg == batch.Request {
		if sc.has&mMethod == 0 {
			return invalid(0, `request without "method"`)
		}
		if sc.has&mURL == 0 {
			return invalid(0, `request without "url"`)
		}
	} else if sc.has&mStatus == 0 {
		return invalid(0, `response without "status"`)
	}
	return d.buildItem(b, off)
}

func quoteName(name []byte) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return `"` + string(name) + `"`
}

// stringValue reads a string member into sp. On failure it returns a
// description of a wrong type, or "" for a syntax error left in p.
func (d *Decoder) stringValue(p *parser, sp *sspan) (bool, string) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		if !p.value() {
			return false, ""
		}
		return false, "is not a string"
	}
	s, e, esc, ok := p.str()
	if !ok {
		return false, ""
	}
	*sp = sspan{s, e, esc}
	if esc {
		d.sc.escLen += e - s
	}
	return true, ""
}

// headers reads the "headers" object, charging MaxHeaderBytes. On failure
// it returns the offset and description of a semantic error, or "" for a
// syntax error left in p; d.hdrErr says which sentinel.
func (d *Decoder) headers(p *parser) (int, string, bool) {
	sc := &d.sc
	b := p.b
	if !p.enter() {
		return 0, "", false
	}
	p.ws()
	if p.i < len(b) && b[p.i] == '}' {
		p.i++
		p.depth--
		return 0, "", true
	}
	size := 0
	for {
		p.ws()
		if p.i >= len(b) || b[p.i] != '"' {
			return 0, "", p.unexpected("a header name")
		}
		nameAt := p.i
		ns, ne, nesc, ok := p.str()
		if !ok {
			return 0, "", false
		}
		if !p.expect(':', "':'") {
			return 0, "", false
		}
		p.ws()
		vAt := p.i
		if p.i >= len(b) || b[p.i] != '"' {
			if !p.value() {
				return 0, "", false
			}
			d.hdrErr = ErrInvalidItem
			return vAt, "header " + quoteName(b[ns:ne]) + " is not a string", false
		}
		vs, ve, vesc, ok := p.str()
		if !ok {
			return 0, "", false
		}
		size += ne - ns + ve - vs + fieldOverhead
		if size > d.opts.maxHeader {
			d.hdrErr = batch.ErrHeaderTooLarge
			return nameAt, "headers longer than MaxHeaderBytes", false
		}
		sc.hdr = append(sc.hdr, sspan{ns, ne, nesc}, sspan{vs, ve, vesc})
		if nesc {
			sc.escLen += ne - ns
		}
		if vesc {
			sc.escLen += ve - vs
		}
		if more, ok := p.next('}'); !ok || !more {
			return 0, "", ok
		}
	}
}

// dependsOn reads the "dependsOn" array of strings.
func (d *Decoder) dependsOn(p *parser) (int, string, bool) {
	sc := &d.sc
	b := p.b
	if !p.enter() {
		return 0, "", false
	}
	p.ws()
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
		p.depth--
		return 0, "", true
	}
	for {
		p.ws()
		vAt := p.i
		if p.i >= len(b) || b[p.i] != '"' {
			if !p.value() {
				return 0, "", false
			}
			return vAt, `an entry of "dependsOn" is not a string`, false
		}
		s, e, esc, ok := p.str()
		if !ok {
			return 0, "", false
		}
		sc.deps = append(sc.deps, sspan{s, e, esc})
		if esc {
			sc.escLen += e - s
		}
		if more, ok := p.next(']'); !ok || !more {
			return 0, "", ok
		}
	}
}

// buildItem turns the spans of a complete item into d.item's views, decoding
// escaped strings and the body into d.scratch.
func (d *Decoder) buildItem(b []byte, off int64) (*Item, error) {
	sc := &d.sc
	// Decoding never makes a string longer; a binary body is unescaped and
	// then decoded, so it may need twice its length. Reserving all of it
	// up front keeps every view into scratch valid.
	need := sc.escLen + 2*(sc.bodyE-sc.bodyS)
	if cap(d.scratch) < need {
		d.scratch = make([]byte, 0, need)
	}
	d.scratch = d.scratch[:0]
	view := func(sp sspan) []byte {
		if !sp.esc {
			return b[sp.s:sp.e:sp.e]
		}
		n := len(d.scratch)
		d.scratch = unescape(d.scratch, b[sp.s:sp.e])
		return d.scratch[n:len(d.scratch):len(d.scratch)]
	}
	it := &d.item
	*it = Item{
		msg:       d.msg,
		index:     d.nitems - 1,
		offset:    off,
		status:    sc.status,
		header:    it.header[:0],
		dependsOn: it.dependsOn[:0],
	}
	if sc.has&mID != 0 {
		it.id = view(sc.id)
	}
	if sc.has&mMethod != 0 {
		it.method = view(sc.method)
	}
	if sc.has&mURL != 0 {
		it.url = view(sc.url)
	}
	if sc.has&mIf != 0 {
		it.ifx = view(sc.ifx)
	}
	if sc.has&mGroup != 0 {
		it.group = view(sc.group)
	}
	for i := 0; i < len(sc.hdr); i += 2 {
		it.header = append(it.header, batch.RawField{Name: view(sc.hdr[i]), Value: view(sc.hdr[i+1])})
	}
	for _, sp := range sc.deps {
		it.dependsOn = append(it.dependsOn, view(sp))
	}
	if sc.has&mBody == 0 {
		return it, nil
	}
	it.raw = b[sc.bodyS:sc.bodyE:sc.bodyE]
	it.kind = JSONBody
	it.body = it.raw
	if !sc.isStr {
		return it, nil
	}
	switch kind := BodyKindOf(it.header.Get("Content-Type")); kind {
	case TextBody:
		it.kind, it.body = kind, view(sc.bodyStr)
	case BinaryBody:
		it.kind = kind
		src := view(sc.bodyStr)
		n := len(d.scratch)
		dst, ok := decodeBase64(d.scratch[n:n:cap(d.scratch)], src)
		if !ok {
			return nil, d.errorAt(off+int64(sc.bodyS), ErrInvalidItem, "body is not base64 or base64url")
		}
		d.scratch = d.scratch[:n+len(dst)]
		it.body = dst
	}
	return it, nil
}

// decodeBase64 decodes src, in base64url or standard base64, padded or not
// (OData writes base64url, Graph base64), appending to dst, which has room.
// A line break is ignored, as in MIME's base64.
func decodeBase64(dst, src []byte) ([]byte, bool) {
	url := bytes.IndexByte(src, '-') >= 0 || bytes.IndexByte(src, '_') >= 0
	if url && (bytes.IndexByte(src, '+') >= 0 || bytes.IndexByte(src, '/') >= 0) {
		return nil, false
	}
	for len(src) > 0 && (src[len(src)-1] == '=' || src[len(src)-1] == '\n' || src[len(src)-1] == '\r') {
		src = src[:len(src)-1]
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	n, err := enc.Decode(dst[:cap(dst)], src)
	if err != nil {
		return nil, false
	}
	return dst[:n], true
}
