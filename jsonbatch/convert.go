package jsonbatch

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// ErrNotConvertible says that a multipart batch holds what a JSON batch
// cannot say, or the other way round: a part that is not an operation,
// changesets nested in changesets, two operations with one Content-ID, an
// atomicity group whose members are not adjacent, or a body larger than
// [DefaultMaxBodyBytes]. It comes wrapped with the index of the operation.
var ErrNotConvertible = errors.New("jsonbatch: not convertible")

// ConvertError is the error of [FromMultipart] and [ToMultipart] for input
// that cannot be converted: which operation (Index, 0-based in document
// order) and why (Err, ErrNotConvertible or ErrBodyTooLarge).
type ConvertError struct {
	// Index is the operation's 0-based index in document order.
	Index int
	// Err is ErrNotConvertible or ErrBodyTooLarge, for errors.Is.
	Err error
	// Detail says what in the operation cannot be converted.
	Detail string
}

// Error returns "jsonbatch: not convertible: operation N: <detail>".
func (e *ConvertError) Error() string {
	return e.Err.Error() + ": operation " + strconv.Itoa(e.Index) + ": " + e.Detail
}

// Unwrap returns Err.
func (e *ConvertError) Unwrap() error { return e.Err }

// FromOperation returns the JSON batch form of a multipart operation and
// its body: the Content-ID becomes the id (empty if there is none; see
// [FromMultipart] for generated ids), the request target the url (a "$n"
// reference kept as it is), the status code the status; group is the
// atomicity group (the changeset's boundary, or ""). The embedded headers
// are kept in order, except Content-Length and Content-ID, which have no
// meaning in a JSON item. The reason phrase, the protocol and the MIME part
// headers are dropped. An empty body becomes no body, and so does one of
// white space alone that would be written as JSON (no Content-Type, or a
// JSON one): clients write the blank line after a GET's header block, and
// sometimes another, which a multipart reader takes for its body.
func FromOperation(op *batch.Operation, body []byte, group string) Operation {
	out := Operation{
		Message:        op.Message,
		ID:             op.ContentID,
		Method:         op.Method,
		URL:            op.Target,
		Status:         op.StatusCode,
		AtomicityGroup: group,
	}
	for _, f := range op.Header {
		if strings.EqualFold(f.Name, "Content-Length") || strings.EqualFold(f.Name, "Content-ID") {
			continue
		}
		out.Header = append(out.Header, f)
	}
	if len(body) > 0 && (len(trimSpace(body)) > 0 || BodyKindOf([]byte(out.ContentType())) != JSONBody) {
		out.Body = body
	}
	return out
}

// Batch returns the multipart form of op, without its body (op.Body, which
// a multipart body carries as it is): the id becomes the Content-ID, the
// url the request target, the status the status code with its standard
// reason phrase. DependsOn and If have no multipart form and are dropped: a
// multipart batch runs in document order, which the JSON batch's rule that
// dependencies precede keeps.
func (op *Operation) Batch() batch.Operation {
	out := batch.Operation{
		Message:    op.Message,
		ContentID:  op.ID,
		Method:     op.Method,
		Target:     op.URL,
		StatusCode: op.Status,
	}
	if len(op.Header) > 0 {
		out.Header = append([]batch.Field(nil), op.Header...)
	}
	return out
}

// FromMultipart reads a multipart batch from src and writes it to dst as a
// JSON batch, one operation at a time: a changeset becomes an atomicity
// group named after its boundary ("<boundary>_2", "_3", … for later
// changesets that reuse it); an operation without a Content-ID gets the id
// "op<N>", N its 1-based index among the operations (so that a request
// batch and its response batch get the same ids), or "op<N>_2", … when an
// earlier Content-ID took that; a Content-ID equal to an id generated
// earlier is an [ErrNotConvertible] error; a request whose url
// starts with "$<id>" of an earlier operation depends on it. Bodies are held
// one at a time, up to [DefaultMaxBodyBytes]. It does not close dst.
func FromMultipart(dst *Encoder, src *batch.Decoder) error {
	seen := make(map[string]bool)     // ids written
	generated := make(map[string]int) // generated ids, by operation index
	groups := make(map[string]bool)   // atomicity group names given
	group := ""
	n := 0
	for {
		p, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			if p.Depth() > 0 {
				return &ConvertError{Index: n, Err: ErrNotConvertible, Detail: "a changeset inside a changeset"}
			}
			// Sibling changesets may share a boundary; each is an
			// atomicity group of its own.
			group = string(p.Boundary())
			for k := 2; groups[group]; k++ {
				group = string(p.Boundary()) + "_" + strconv.Itoa(k)
			}
			groups[group] = true
			continue
		case batch.KindChangesetEnd:
			group = ""
			continue
		case batch.KindOther:
			return &ConvertError{Index: n, Err: ErrNotConvertible, Detail: "a part that is not an operation"}
		}
		body, err := io.ReadAll(io.LimitReader(p, DefaultMaxBodyBytes+1))
		if err != nil {
			return err
		}
		if len(body) > DefaultMaxBodyBytes {
			return &ConvertError{Index: n, Err: ErrBodyTooLarge, Detail: "longer than DefaultMaxBodyBytes"}
		}
		mop := p.Operation()
		op := FromOperation(&mop, body, group)
		n++
		if op.ID == "" {
			// A generated id steps aside for a Content-ID taken before.
			op.ID = "op" + strconv.Itoa(n)
			for k := 2; seen[op.ID]; k++ {
				op.ID = "op" + strconv.Itoa(n) + "_" + strconv.Itoa(k)
			}
			generated[op.ID] = n - 1
		} else if i, ok := generated[op.ID]; ok {
			return &ConvertError{Index: n - 1, Err: ErrNotConvertible, Detail: "Content-ID " + strconv.Quote(op.ID) +
				" is the id generated for operation " + strconv.Itoa(i) + ", which has no Content-ID; give it one"}
		}
		if seen[op.ID] {
			return &ConvertError{Index: n - 1, Err: ErrNotConvertible, Detail: "id " + strconv.Quote(op.ID) + " used twice"}
		}
		if ref, ok := reference(op.URL); ok && seen[ref] && op.Message == batch.Request {
			op.DependsOn = []string{ref}
		}
		seen[op.ID] = true
		if err := dst.WriteOperation(&op); err != nil {
			return err
		}
	}
}

// reference returns the id of a "$<id>" first segment of url.
func reference(url string) (string, bool) {
	if !strings.HasPrefix(url, "$") {
		return "", false
	}
	ref := url[1:]
	if i := strings.IndexAny(ref, "/?"); i >= 0 {
		ref = ref[:i]
	}
	return ref, ref != ""
}

// ToMultipart reads a JSON batch from src and writes it to dst as a
// multipart batch: adjacent items of one atomicity group become a
// changeset (with a fresh random boundary: a group id is only a name),
// each id the Content-ID, each body written as decoded. It does not close
// dst.
func ToMultipart(dst *batch.Encoder, src *Decoder) error {
	var open string
	closed := make(map[string]bool)
	for {
		it, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if g := it.AtomicityGroup(); string(g) != open {
			if open != "" {
				if err := dst.EndChangeset(); err != nil {
					return err
				}
				closed[open] = true
				open = ""
			}
			if len(g) > 0 {
				if closed[string(g)] {
					return &ConvertError{Index: it.Index(), Err: ErrNotConvertible, Detail: "atomicity group " + strconv.Quote(string(g)) + " is not adjacent"}
				}
				open = string(g)
				// A fresh random boundary, not the group id: an id is
				// a name, and as a boundary it could begin a line of a
				// body ("--cs_1" in "--cs_1_outer"), which the encoder
				// refuses once the body is half written.
				if err := dst.BeginChangeset(); err != nil {
					return err
				}
			}
		}
		mop := batch.Operation{
			Message:    it.msg,
			ContentID:  string(it.id),
			Method:     string(it.method),
			Target:     string(it.url),
			StatusCode: it.status,
		}
		// Content-Length and Content-ID have no meaning in a JSON item
		// (FromOperation drops them): the id is the Content-ID, and a
		// declared length would disagree with the decoded body.
		for _, f := range it.header {
			if !equalFold(f.Name, "content-length") && !equalFold(f.Name, "content-id") {
				mop.Header = append(mop.Header, batch.Field{Name: string(f.Name), Value: string(f.Value)})
			}
		}
		if err := dst.WriteOperation(&mop, it); err != nil {
			return err
		}
	}
	if open != "" {
		return dst.EndChangeset()
	}
	return nil
}
