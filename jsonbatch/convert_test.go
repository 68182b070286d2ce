package jsonbatch

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mpItem is one part of a multipart batch as the round-trip test compares
// it: kind, depth, the operation and its body.
type mpItem struct {
	Kind  batch.Kind
	Depth int
	Op    batch.Operation
	Body  string
}

type mpOp struct {
	changeset int // 0: top level; changesets are numbered from 1
	op        batch.Operation
	body      string
}

// writeMultipart writes ops as a multipart batch, changesets opened and
// closed around runs of the same changeset number.
func writeMultipart(t *testing.T, ops []mpOp) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	e, err := batch.NewEncoder(&buf, batch.WithBoundary("batch_1"))
	require.NoError(t, err)
	cs := 0
	for _, o := range ops {
		if o.changeset != cs {
			if cs != 0 {
				require.NoError(t, e.EndChangeset())
			}
			if o.changeset != 0 {
				require.NoError(t, e.BeginChangesetWith("changeset_"+string(rune('0'+o.changeset)), nil))
			}
			cs = o.changeset
		}
		op := o.op
		require.NoError(t, e.WriteOperation(&op, strings.NewReader(o.body)))
	}
	if cs != 0 {
		require.NoError(t, e.EndChangeset())
	}
	require.NoError(t, e.Close())
	return buf.Bytes(), e.ContentType()
}

func readMultipart(t *testing.T, data []byte, contentType string) []mpItem {
	t.Helper()
	d, err := batch.NewDecoder(bytes.NewReader(data), contentType)
	require.NoError(t, err)
	var out []mpItem
	for {
		p, err := d.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		item := mpItem{Kind: p.Kind(), Depth: p.Depth(), Op: p.Operation(), Body: string(body)}
		if p.Kind() != batch.KindOperation {
			// A changeset's boundary is framing, chosen at random by
			// ToMultipart: its place in the stream is what counts.
			item.Op = batch.Operation{}
		}
		out = append(out, item)
	}
}

var mpRequests = []mpOp{
	{0, batch.Operation{Message: batch.Request, Method: "GET", Target: "Customers('ALFKI')", Header: hdr("Accept", "application/json")}, ""},
	{1, batch.Operation{Message: batch.Request, ContentID: "1", Method: "POST", Target: "Customers",
		Header: hdr("Content-Type", "application/json")}, `{"CustomerID":"ANTON"}`},
	{1, batch.Operation{Message: batch.Request, ContentID: "2", Method: "PATCH", Target: "$1/Orders",
		Header: hdr("Content-Type", "application/json", "If-Match", `W/"1"`)}, "{\n  \"ShipCity\": \"México\"\n}"},
	{0, batch.Operation{Message: batch.Request, Method: "PUT", Target: "Docs(1)/Note",
		Header: hdr("Content-Type", "text/plain; charset=utf-8")}, "line 1\r\nline 2\n"},
	{2, batch.Operation{Message: batch.Request, ContentID: "3", Method: "PUT", Target: "Docs(1)/Thumb/$value",
		Header: hdr("Content-Type", "image/png")}, "\x89PNG\r\n\x1a\n\x00\xff"},
}

// TestMultipartJSONMultipart: multipart → JSON → multipart gives the same
// operations and bodies, in the same changesets; the only change is the
// Content-ID generated for operations that had none.
func TestMultipartJSONMultipart(t *testing.T) {
	data, ct := writeMultipart(t, mpRequests)
	want := readMultipart(t, data, ct)

	d, err := batch.NewDecoder(bytes.NewReader(data), ct)
	require.NoError(t, err)
	var js bytes.Buffer
	je, err := NewEncoder(&js, batch.Request)
	require.NoError(t, err)
	require.NoError(t, FromMultipart(je, d))
	require.NoError(t, je.Close())

	ops, err := decodeAll(bytes.NewReader(js.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, []string{"op1", "1", "2", "op4", "3"}, ids(ops))
	assert.Equal(t, "changeset_1", ops[1].AtomicityGroup)
	assert.Equal(t, []string{"1"}, ops[2].DependsOn, "$1 reference")
	assert.Equal(t, "$1/Orders", ops[2].URL)

	var back bytes.Buffer
	me, err := batch.NewEncoder(&back, batch.WithBoundary("batch_1"))
	require.NoError(t, err)
	require.NoError(t, ToMultipart(me, NewDecoder(bytes.NewReader(js.Bytes()))))
	require.NoError(t, me.Close())
	got := readMultipart(t, back.Bytes(), me.ContentType())

	// The generated ids are the only difference.
	setCID := func(items []mpItem, i int, id string) {
		items[i].Op.ContentID = id
		items[i].Op.PartHeader = append(items[i].Op.PartHeader, batch.Field{Name: "Content-ID", Value: id})
	}
	setCID(want, 0, "op1")
	setCID(want, 5, "op4")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("multipart → JSON → multipart mismatch (-want +got):\n%s\nJSON: %s", diff, js.Bytes())
	}
}

func ids(ops []Operation) []string {
	var s []string
	for _, op := range ops {
		s = append(s, op.ID)
	}
	return s
}

func TestResponsesJSONMultipart(t *testing.T) {
	in := `{"responses":[{"id":"1","status":201,"atomicityGroup":"g1","headers":{"Location":"Customers('ANTON')"}},` +
		`{"id":"2","status":204,"atomicityGroup":"g1"},{"id":"3","status":200,"headers":{"Content-Type":"text/plain"},"body":"ok"}]}`
	var back bytes.Buffer
	me, err := batch.NewEncoder(&back, batch.WithBoundary("batchresponse_1"))
	require.NoError(t, err)
	require.NoError(t, ToMultipart(me, NewDecoder(strings.NewReader(in))))
	require.NoError(t, me.Close())
	items := readMultipart(t, back.Bytes(), me.ContentType())
	var kinds []batch.Kind
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	assert.Equal(t, []batch.Kind{batch.KindChangesetStart, batch.KindOperation, batch.KindOperation, batch.KindChangesetEnd, batch.KindOperation}, kinds)
	assert.Equal(t, 201, items[1].Op.StatusCode)
	assert.Equal(t, "Created", items[1].Op.Reason)
	assert.Equal(t, "ok", items[4].Body)

	// And back to JSON: the same items.
	d, err := batch.NewDecoder(bytes.NewReader(back.Bytes()), me.ContentType())
	require.NoError(t, err)
	var js bytes.Buffer
	je, err := NewEncoder(&js, batch.Response, WithDialect(Graph))
	require.NoError(t, err)
	require.NoError(t, FromMultipart(je, d))
	require.NoError(t, je.Close())
	want, err := decodeAll(strings.NewReader(in))
	require.NoError(t, err)
	got, err := decodeAll(&js)
	require.NoError(t, err)
	if diff := cmp.Diff(groupsByOrder(want), groupsByOrder(got)); diff != "" {
		t.Errorf("JSON → multipart → JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestToMultipartRefusesSplitGroup(t *testing.T) {
	in := `{"requests":[{"id":"1","method":"POST","url":"/a","atomicityGroup":"g"},{"id":"2","method":"GET","url":"/b"},` +
		`{"id":"3","method":"POST","url":"/c","atomicityGroup":"g"}]}`
	me, err := batch.NewEncoder(io.Discard)
	require.NoError(t, err)
	err = ToMultipart(me, NewDecoder(strings.NewReader(in)))
	require.ErrorIs(t, err, ErrNotConvertible)
	var ce *ConvertError
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, 2, ce.Index)
}

func TestFromMultipartRefusesDuplicateIDs(t *testing.T) {
	data, ct := writeMultipart(t, []mpOp{
		{1, batch.Operation{Message: batch.Request, ContentID: "1", Method: "POST", Target: "/a"}, ""},
		{2, batch.Operation{Message: batch.Request, ContentID: "1", Method: "POST", Target: "/b"}, ""},
	})
	d, err := batch.NewDecoder(bytes.NewReader(data), ct)
	require.NoError(t, err)
	je, err := NewEncoder(io.Discard, batch.Request)
	require.NoError(t, err)
	err = FromMultipart(je, d)
	assert.ErrorIs(t, err, ErrNotConvertible)
}

// groupsByOrder renames the atomicity groups of ops "g1", "g2", … in the
// order they first appear: a group id is a name that a multipart batch,
// whose changesets get random boundaries, does not keep; which operations
// share a group is what must survive.
func groupsByOrder(ops []Operation) []Operation {
	names := map[string]string{}
	out := append([]Operation(nil), ops...)
	for i := range out {
		if g := out[i].AtomicityGroup; g != "" {
			if names[g] == "" {
				names[g] = "g" + strconv.Itoa(len(names)+1)
			}
			out[i].AtomicityGroup = names[g]
		}
	}
	return out
}

// fromMultipartString converts a multipart batch with boundary "b".
func fromMultipartString(t *testing.T, in string) ([]Operation, error) {
	t.Helper()
	d, err := batch.NewDecoder(strings.NewReader(in), "multipart/mixed; boundary=b")
	require.NoError(t, err)
	var out bytes.Buffer
	e, err := NewEncoder(&out, 0)
	require.NoError(t, err)
	if err := FromMultipart(e, d); err != nil {
		return nil, err
	}
	require.NoError(t, e.Close())
	return decodeAll(&out)
}

const getPart = "--b\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n"

// TestFromMultipartSiblingChangesets: two changesets that share a boundary
// are two atomicity groups, which convert back as two changesets.
func TestFromMultipartSiblingChangesets(t *testing.T) {
	cs := "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		"--cs\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n--cs--\r\n"
	ops, err := fromMultipartString(t, cs+cs+getPart+cs+"--b--\r\n")
	require.NoError(t, err)
	var groups []string
	for _, op := range ops {
		groups = append(groups, op.AtomicityGroup)
	}
	assert.Equal(t, []string{"cs", "cs_2", "", "cs_3"}, groups)
}

// TestFromMultipartGeneratedIDs: a generated id never takes a Content-ID
// given earlier, and a Content-ID that equals an id generated earlier is
// refused with the reason, not as a duplicate.
func TestFromMultipartGeneratedIDs(t *testing.T) {
	withID := func(id string) string {
		return "--b\r\nContent-Type: application/http\r\nContent-ID: " + id + "\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n"
	}
	ops, err := fromMultipartString(t, withID("op2")+getPart+"--b--\r\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"op2", "op2_2"}, ids(ops))

	_, err = fromMultipartString(t, getPart+withID("op1")+"--b--\r\n")
	var ce *ConvertError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.Index)
	assert.Contains(t, ce.Detail, "generated for operation 0")
}

// TestToMultipartDropsFraming: a JSON item's content-length and content-id
// headers are not copied into the multipart operation, whose body is the
// decoded one: the output decodes strictly.
func TestToMultipartDropsFraming(t *testing.T) {
	js := `{"requests":[{"id":"1","method":"POST","url":"/a","headers":{"content-type":"text/plain","content-length":"99","content-id":"7"},"body":"abc"}]}`
	var mp bytes.Buffer
	me, err := batch.NewEncoder(&mp, batch.WithBoundary("b"))
	require.NoError(t, err)
	require.NoError(t, ToMultipart(me, NewDecoder(strings.NewReader(js))))
	require.NoError(t, me.Close())
	d, err := batch.NewDecoder(&mp, me.ContentType(), batch.Strict(true))
	require.NoError(t, err)
	p, err := d.Next()
	require.NoError(t, err)
	id, _ := p.ContentID()
	assert.Equal(t, "1", string(id))
	assert.Equal(t, []batch.Field{{Name: "Content-Type", Value: "text/plain"}}, p.Header().Fields())
	_, err = d.Next()
	assert.Equal(t, io.EOF, err)
}

// TestVectorsThroughMultipart: every JSON vector, the Graph and OData
// examples among them, converted to a multipart batch and back gives the
// same operations (see throughMultipart).
func TestVectorsThroughMultipart(t *testing.T) {
	for _, name := range vectorNames(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, throughMultipart(t, readVector(t, name)))
		})
	}
}

// throughMultipart converts the JSON batch in to a multipart batch and back
// and checks that it gives the same operations, but for what multipart
// cannot say: "if", dependsOn other than a "$<id>" reference, group names
// (a changeset's name is a fresh boundary), the case of header names, an
// empty body (as against none) and an empty id (as against none, which
// comes back as a generated "op<N>"). It returns the error of a conversion
// that refuses the input (ErrNotConvertible) and fails t on any other.
func throughMultipart(t testing.TB, in []byte) error {
	t.Helper()
	want, err := decodeAll(bytes.NewReader(in))
	require.NoError(t, err)

	var mp bytes.Buffer
	me, err := batch.NewEncoder(&mp, batch.WithBoundary("batch_v"))
	require.NoError(t, err)
	if err := ToMultipart(me, NewDecoder(bytes.NewReader(in))); err != nil {
		if errors.Is(err, ErrNotConvertible) || errors.Is(err, batch.ErrInvalidOperation) {
			return err
		}
		t.Fatalf("ToMultipart: %v", err)
	}
	require.NoError(t, me.Close())

	md, err := batch.NewDecoder(bytes.NewReader(mp.Bytes()), me.ContentType())
	require.NoError(t, err)
	var js bytes.Buffer
	je, err := NewEncoder(&js, 0)
	require.NoError(t, err)
	require.NoError(t, FromMultipart(je, md), "multipart:\n%s", mp.Bytes())
	require.NoError(t, je.Close())
	got, err := decodeAll(bytes.NewReader(js.Bytes()))
	require.NoError(t, err, "%s", js.Bytes())

	seen := map[string]bool{}
	for i := range want {
		op := &want[i]
		op.If = ""
		var deps []string
		if ref, _, _ := strings.Cut(strings.TrimPrefix(op.URL, "$"), "/"); strings.HasPrefix(op.URL, "$") && seen[ref] {
			deps = []string{ref}
		}
		op.DependsOn = deps
		if op.ID != "" { // an empty id is no Content-ID: "$" names nothing
			seen[op.ID] = true
		}
	}
	norm := func(ops []Operation) {
		groups := map[string]string{}
		for i := range ops {
			op := &ops[i]
			if op.AtomicityGroup != "" {
				if _, ok := groups[op.AtomicityGroup]; !ok {
					groups[op.AtomicityGroup] = "group" + strconv.Itoa(len(groups)+1)
				}
				op.AtomicityGroup = groups[op.AtomicityGroup]
			}
			lowerNames(op.Header)
			if len(op.DependsOn) == 0 {
				op.DependsOn = nil
			}
			if len(op.Body) == 0 {
				op.Body = nil // multipart cannot tell an empty body from none
			}
		}
	}
	norm(want)
	norm(got)
	for i := range want {
		if want[i].ID == "" && i < len(got) && got[i].ID == "op"+strconv.Itoa(i+1) {
			want[i].ID = got[i].ID // an empty id is no Content-ID, and comes back generated
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("JSON → multipart → JSON mismatch (-want +got):\n%s\nmultipart:\n%s", diff, mp.Bytes())
	}
	return nil
}

// TestFromOperationBlankBody: white space alone, which a multipart reader
// takes for the body of a GET written with an extra blank line, is no body
// when it would be written as JSON; text keeps it.
func TestFromOperationBlankBody(t *testing.T) {
	get := batch.Operation{Message: batch.Request, Method: "GET", Target: "Books(1)"}
	assert.Nil(t, FromOperation(&get, []byte("\r\n"), "").Body)
	assert.Nil(t, FromOperation(&get, []byte(" \r\n\t"), "").Body)
	text := batch.Operation{Message: batch.Request, Method: "PUT", Target: "Notes(1)",
		Header: []batch.Field{{Name: "Content-Type", Value: "text/plain"}}}
	assert.Equal(t, []byte("\r\n"), FromOperation(&text, []byte("\r\n"), "").Body)
}
