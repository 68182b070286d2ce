package jsonbatch

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/batchcodec/batch"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	req = batch.Request
	res = batch.Response
)

func hdr(kv ...string) []batch.Field {
	var f []batch.Field
	for i := 0; i < len(kv); i += 2 {
		f = append(f, batch.Field{Name: kv[i], Value: kv[i+1]})
	}
	return f
}

// vectorWant holds what each vector under testdata/vectors decodes to,
// written by hand from the files.
var vectorWant = map[string][]Operation{
	"graph-requests.json": {
		{Message: req, ID: "1", Method: "GET", URL: "/me/drive/root:/budget.xlsx:/content"},
		{Message: req, ID: "2", Method: "GET", URL: "/me/planner/tasks", DependsOn: []string{"1"}},
		{Message: req, ID: "3", Method: "POST", URL: "/me/events", DependsOn: []string{"2"},
			Header: hdr("Content-Type", "application/json"),
			Body: []byte(`{"subject":"Quarterly review","start":{"dateTime":"2026-12-03T10:00:00","timeZone":"UTC"},` +
				`"attendees":[{"emailAddress":{"address":"ana@contoso.example"},"type":"required"}],"isOnlineMeeting":true,"reminderMinutesBeforeStart":15}`)},
		{Message: req, ID: "4", Method: "PUT", URL: "/me/photo/$value", Header: hdr("Content-Type", "image/png"),
			Body: b64(base64.StdEncoding, "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")},
		{Message: req, ID: "5", Method: "GET", URL: "/users?$filter=startswith(displayName,'a')&$top=5", Header: hdr("ConsistencyLevel", "eventual")},
	},
	"graph-responses.json": {
		{Message: res, ID: "3", Status: 201,
			Header: hdr("Location", "https://graph.example/v1.0/me/events/AAMk1", "Content-Type", "application/json; odata.metadata=minimal"),
			Body:   []byte(`{"@odata.context":"https://graph.example/v1.0/$metadata#users('ana')/events/$entity","id":"AAMk1","subject":"Quarterly review"}`)},
		{Message: res, ID: "1", Status: 200, Header: hdr("Content-Type", "application/octet-stream"),
			Body: []byte{80, 75, 3, 4, 20, 0, 6, 0, 8, 0, 0, 0, 33, 0, 255, 0, 1, 2}},
		{Message: res, ID: "2", Status: 429, Header: hdr("Retry-After", "7", "Content-Type", "application/json"),
			Body: []byte(`{"error":{"code":"TooManyRequests","message":"Too many requests."}}`)},
		{Message: res, ID: "4", Status: 204},
		{Message: res, ID: "5", Status: 424, Body: []byte(`{"error":{"code":"FailedDependency","message":"Dependency failed"}}`)},
	},
	"odata-requests.json": {
		{Message: req, ID: "0", Method: "get", URL: "Customers('ALFKI')"},
		{Message: req, ID: "1", AtomicityGroup: "g1", Method: "post", URL: "Customers",
			Header: hdr("content-type", "application/json", "odata-version", "4.01"),
			Body:   []byte(`{"CustomerID":"ANTON","CompanyName":"Antonio Moreno"}`)},
		{Message: req, ID: "2", AtomicityGroup: "g1", DependsOn: []string{"1"}, Method: "patch", URL: "$1/Orders", If: "$1/Active",
			Header: hdr("content-type", "application/json", "if-match", `W/"3"`),
			Body:   []byte(`{"ShipCity":"M\u00e9xico D.F."}`)},
		{Message: req, ID: "3", DependsOn: []string{"g1"}, Method: "put", URL: "Documents(7)/Notes",
			Header: hdr("content-type", "text/plain; charset=utf-8"),
			Body:   []byte("Line one\r\nLine \"two\"\ttabbed\nüber 😀")},
		{Message: req, ID: "4", Method: "put", URL: "Documents(7)/Thumbnail/$value",
			Header: hdr("content-type", "application/octet-stream"),
			Body:   []byte{0, 255, 254, 255, 238, 255, 0}},
		{Message: req, ID: "5", Method: "post", URL: "Events", Header: hdr("content-type", "application/vnd.example+json"),
			Body: []byte(`[1,-2.5e-3,true,false,null,"s",{}]`)},
	},
	"unusual-order.json": {
		{Message: req, ID: "a", Method: "PUT", URL: "/drive/items/1/content",
			Header: hdr("Content-Type", "image/jpeg", "X-Note", "headers after body"), Body: []byte("hello, world")},
		{Message: req, ID: "b", Method: "DELETE", URL: "/x"},
		{Message: req, ID: "c", Method: "POST", URL: "/import", DependsOn: []string{"a", "b"},
			Header: hdr("Accept", "*/*", "Content-Type", "text/csv", "accept", "text/csv"), Body: []byte("plain text, no escapes")},
		{Message: req, ID: "d", Method: "POST", URL: "/echo", Body: []byte(`"a JSON string because there is no Content-Type"`)},
	},
	"bom-crlf-responses.json": {
		{Message: res, ID: "1", Status: 200, Header: hdr("content-type", "text/plain"), Body: []byte{}},
		{Message: res, ID: "2", Status: 500, AtomicityGroup: "g"},
	},
	"empty.json": nil,
}

func TestVectors(t *testing.T) {
	for _, name := range vectorNames(t) {
		t.Run(name, func(t *testing.T) {
			want, ok := vectorWant[name]
			require.True(t, ok, "no expectation for %s", name)
			in := readVector(t, name)
			got, err := decodeAll(bytes.NewReader(in))
			require.NoError(t, err)
			if diff := cmp.Diff(want, got, compactJSON); diff != "" {
				t.Errorf("decode(%s) mismatch (-want +got):\n%s", name, diff)
			}
			// Bodies are sacred: a JSON body is handed out byte for byte
			// as it stands in the input.
			d := NewDecoder(bytes.NewReader(in))
			for {
				it, err := d.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				if it.RawBody() != nil {
					assert.True(t, bytes.Contains(in, it.RawBody()), "raw body %q not in the input", it.RawBody())
				}
				if it.BodyKind() == JSONBody {
					assert.Equal(t, it.RawBody(), it.Body())
				}
				assert.Equal(t, byte('{'), in[it.Offset()], "Offset of item %d", it.Index())
			}
		})
	}
}

func TestBodyKinds(t *testing.T) {
	in := readVector(t, "odata-requests.json")
	d := NewDecoder(bytes.NewReader(in))
	var kinds []BodyKind
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		kinds = append(kinds, it.BodyKind())
	}
	assert.Equal(t, []BodyKind{NoBody, JSONBody, JSONBody, TextBody, BinaryBody, JSONBody}, kinds)
	assert.Equal(t, batch.Request, d.Message())
}

func TestBodyKindOf(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		want BodyKind
	}{
		{"", JSONBody},
		{"application/json", JSONBody},
		{"Application/JSON; charset=utf-8", JSONBody},
		{"application/problem+json", JSONBody},
		{"application/vnd.api+JSON;ext=bulk", JSONBody},
		{" ; x=y", JSONBody},
		{"text/plain", TextBody},
		{"TEXT/csv; charset=utf-8", TextBody},
		{"text/", BinaryBody},
		{"application/octet-stream", BinaryBody},
		{"image/png", BinaryBody},
		{"application/jsonx", BinaryBody},
		{"multipart/mixed; boundary=b", BinaryBody},
	} {
		if got := BodyKindOf([]byte(tt.ct)); got != tt.want {
			t.Errorf("BodyKindOf(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

// errCase is one row of TestErrors: input, the sentinel, the offset and the
// item index of the error, and how many items come before it.
type errCase struct {
	name   string
	in     string
	err    error
	offset int64
	part   int
	items  int
	opts   []DecodeOption
}

const okItem = `{"id":"1","method":"GET","url":"/a"}`

var errCases = []errCase{
	{name: "empty input", in: ``, err: batch.ErrTruncated, offset: 0, part: -1},
	{name: "whitespace only", in: " \n", err: batch.ErrTruncated, offset: 2, part: -1},
	{name: "not an object", in: `[]`, err: ErrInvalidItem, offset: 0, part: -1},
	{name: "not JSON", in: `<html>`, err: ErrSyntax, offset: 0, part: -1},
	{name: "array name with a bad value", in: `{"requests":x}`, err: ErrSyntax, offset: 12, part: -1},
	{name: "no array", in: `{"@odata.context":"x"}`, err: ErrInvalidItem, offset: 22, part: -1},
	{name: "two arrays", in: `{"requests":[],"responses":[]}`, err: ErrInvalidItem, offset: 15, part: -1},
	{name: "array is an object", in: `{"requests":{}}`, err: ErrInvalidItem, offset: 12, part: -1},
	{name: "missing colon", in: `{"requests" []}`, err: ErrSyntax, offset: 12, part: -1},
	{name: "trailing comma in array", in: `{"requests":[` + okItem + `,]}`, err: ErrSyntax, offset: 50, part: 1, items: 1},
	{name: "trailing comma in document", in: `{"requests":[],}`, err: ErrSyntax, offset: 15, part: -1},
	{name: "missing comma between items", in: `{"requests":[` + okItem + okItem + `]}`, err: ErrSyntax, offset: 49, part: 0, items: 1},
	{name: "item not an object", in: `{"requests":["x"]}`, err: ErrInvalidItem, offset: 13, part: 0},
	{name: "missing id", in: `{"requests":[{"method":"GET","url":"/a"}]}`, err: ErrInvalidItem, offset: 13, part: 0},
	{name: "missing method", in: `{"requests":[{"id":"1","url":"/a"}]}`, err: ErrInvalidItem, offset: 13, part: 0},
	{name: "missing url", in: `{"requests":[{"id":"1","method":"GET"}]}`, err: ErrInvalidItem, offset: 13, part: 0},
	{name: "missing status", in: `{"responses":[{"id":"1"}]}`, err: ErrInvalidItem, offset: 14, part: 0},
	{name: "status not a number", in: `{"responses":[{"id":"1","status":"200"}]}`, err: ErrInvalidItem, offset: 33, part: 0},
	{name: "status fraction", in: `{"responses":[{"id":"1","status":200.5}]}`, err: ErrInvalidItem, offset: 33, part: 0},
	{name: "status out of range", in: `{"responses":[{"id":"1","status":99}]}`, err: ErrInvalidItem, offset: 33, part: 0},
	{name: "id not a string", in: `{"requests":[{"id":1,"method":"GET","url":"/a"}]}`, err: ErrInvalidItem, offset: 19, part: 0},
	{name: "repeated member", in: `{"requests":[{"id":"1","id":"2","method":"GET","url":"/a"}]}`, err: ErrInvalidItem, offset: 23, part: 0},
	{name: "repeated member, first null", in: `{"requests":[{"id":null,"id":"2","method":"GET","url":"/a"}]}`, err: ErrInvalidItem, offset: 24, part: 0},
	{name: "header not a string", in: `{"requests":[{"id":"1","method":"GET","url":"/a","headers":{"a":1}}]}`, err: ErrInvalidItem, offset: 64, part: 0},
	{name: "headers not an object", in: `{"requests":[{"id":"1","method":"GET","url":"/a","headers":[]}]}`, err: ErrInvalidItem, offset: 59, part: 0},
	{name: "dependsOn entry not a string", in: `{"requests":[{"id":"1","method":"GET","url":"/a","dependsOn":[1]}]}`, err: ErrInvalidItem, offset: 62, part: 0},
	{name: "bad base64", in: `{"requests":[{"id":"1","method":"PUT","url":"/a","headers":{"content-type":"image/png"},"body":"a+b_"}]}`, err: ErrInvalidItem, offset: 95, part: 0},
	{name: "control character in string", in: "{\"requests\":[{\"id\":\"1\x01\"}]}", err: ErrSyntax, offset: 21, part: 0},
	{name: "invalid UTF-8", in: "{\"requests\":[{\"id\":\"\xff\"}]}", err: ErrSyntax, offset: 20, part: 0},
	{name: "bad escape", in: `{"requests":[{"id":"\x"}]}`, err: ErrSyntax, offset: 20, part: 0},
	{name: "bad unicode escape", in: `{"requests":[{"id":"\u12g4"}]}`, err: ErrSyntax, offset: 24, part: 0},
	{name: "bad literal", in: `{"requests":[{"x":nul,"id":"1"}]}`, err: ErrSyntax, offset: 21, part: 0},
	{name: "leading zero", in: `{"requests":[{"x":01}]}`, err: ErrSyntax, offset: 19, part: 0},
	{name: "mismatched bracket", in: `{"requests":[{"x":[1}]}`, err: ErrSyntax, offset: 20, part: 0},
	{name: "error before a mismatch", in: `{"requests":[{"x" [1}]}`, err: ErrSyntax, offset: 18, part: 0},
	{name: "data after the document", in: `{"requests":[]} {}`, err: ErrSyntax, offset: 16, part: -1},
	{name: "bad top-level member value", in: `{"x":[1,],"requests":[]}`, err: ErrSyntax, offset: 8, part: -1},
	{name: "too many items", in: `{"requests":[` + okItem + `,` + okItem + `]}`, err: batch.ErrTooManyParts, offset: 50, part: 1, items: 1, opts: []DecodeOption{MaxItems(1)}},
	{name: "too deep", in: `{"requests":[{"body":[[[1]]]}]}`, err: ErrTooDeep, offset: 23, part: 0, opts: []DecodeOption{MaxDepth(3)}},
	{name: "too deep in another member", in: `{"x":[[1]],"requests":[]}`, err: ErrTooDeep, offset: 6, part: -1, opts: []DecodeOption{MaxDepth(1)}},
	{name: "body too large", in: `{"requests":[{"id":"1","method":"GET","url":"/a","body":"12345678"}]}`, err: ErrBodyTooLarge, offset: 56, part: 0, opts: []DecodeOption{MaxBodyBytes(8)}},
	{name: "headers too large", in: `{"requests":[{"id":"1","method":"GET","url":"/a","headers":{"a":"b","c":"d"}}]}`, err: batch.ErrHeaderTooLarge, offset: 68, part: 0, opts: []DecodeOption{MaxHeaderBytes(100)}},
	{name: "item too large", in: `{"requests":[` + okItem + `]}`, err: ErrItemTooLarge, offset: 13 + 20, part: 0, opts: []DecodeOption{MaxItemBytes(20), BufferSize(1)}},
	{name: "syntax error after the item limit", in: `{"requests":[{"id":"1","method":"GET","url":"/a" "x":1}]}`, err: ErrItemTooLarge, offset: 13 + 20, part: 0, opts: []DecodeOption{MaxItemBytes(20)}},
	{name: "syntax error before the item limit", in: `{"requests":[{"x":1 2,"id":"1","method":"GET","url":"/a"}]}`, err: ErrSyntax, offset: 20, part: 0, opts: []DecodeOption{MaxItemBytes(20)}},
	{name: "truncated item", in: `{"requests":[{"id":"1","meth`, err: batch.ErrTruncated, offset: 28, part: 0},
	{name: "truncated after the array", in: `{"requests":[]`, err: batch.ErrTruncated, offset: 14, part: -1},
	{name: "truncated in a number", in: `{"responses":[{"id":"1","status":20`, err: batch.ErrTruncated, offset: 35, part: 0},
}

func TestErrors(t *testing.T) {
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := decodeAll(strings.NewReader(tt.in), tt.opts...)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.err)
			se := syntaxError(t, err)
			assert.Equal(t, tt.offset, se.Offset, "Offset of %v", err)
			assert.Equal(t, tt.part, se.Part, "Part of %v", err)
			assert.Len(t, ops, tt.items, "items before the error")
			// Sticky: the same error again.
			d := NewDecoder(strings.NewReader(tt.in), tt.opts...)
			var first error
			for first == nil {
				_, first = d.Next()
			}
			_, again := d.Next()
			assert.Same(t, first, again)
			// Whatever the chunking, the same error.
			_, err1 := decodeAll(iotest.OneByteReader(strings.NewReader(tt.in)), tt.opts...)
			assert.Equal(t, err.Error(), err1.Error(), "one byte at a time")
		})
	}
}

func TestTruncatedAlsoMatchesUnexpectedEOF(t *testing.T) {
	_, err := decodeAll(strings.NewReader(`{"requests":[`))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestTruncation cuts every vector at every offset before its closing brace
// and expects an error matching ErrTruncated, never a shorter success.
func TestTruncation(t *testing.T) {
	for _, name := range vectorNames(t) {
		in := readVector(t, name)
		end := bytes.LastIndexByte(in, '}')
		for cut := 0; cut <= end; cut++ {
			_, err := decodeAll(bytes.NewReader(in[:cut]))
			if !errors.Is(err, batch.ErrTruncated) {
				t.Fatalf("%s cut at %d: err = %v, want ErrTruncated", name, cut, err)
			}
			se := syntaxError(t, err)
			if se.Offset != int64(cut) {
				t.Fatalf("%s cut at %d: Offset = %d, want %d", name, cut, se.Offset, cut)
			}
		}
	}
}

// readers returns the ways TestChunking hands the input to the decoder.
func readers(in []byte, seed uint64) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":    bytes.NewReader(in),
		"one byte": iotest.OneByteReader(bytes.NewReader(in)),
		"half":     iotest.HalfReader(bytes.NewReader(in)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(in)),
		"random":   &randomReader{r: bytes.NewReader(in), rng: rand.New(rand.NewPCG(seed, 1))},
	}
}

// randomReader returns short reads of random sizes, sometimes zero bytes
// with a nil error.
type randomReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (r *randomReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := r.rng.IntN(min(len(p), 97) + 1)
	if n == 0 {
		return 0, nil
	}
	return r.r.Read(p[:n])
}

func TestChunking(t *testing.T) {
	for _, name := range vectorNames(t) {
		in := readVector(t, name)
		want, err := decodeAll(bytes.NewReader(in))
		require.NoError(t, err)
		for how, r := range readers(in, 7) {
			got, err := decodeAll(r, BufferSize(1))
			require.NoError(t, err, "%s, %s", name, how)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s read %s: mismatch (-whole +chunked):\n%s", name, how, diff)
			}
		}
	}
}

func TestReadErrorPassesThrough(t *testing.T) {
	boom := errors.New("boom")
	in := `{"requests":[` + okItem + `,` + okItem
	ops, err := decodeAll(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)))
	assert.Len(t, ops, 2)
	assert.Equal(t, boom, err, "read errors are returned as they are")
}

func TestItemReader(t *testing.T) {
	in := `{"requests":[{"id":"1","method":"PUT","url":"/t","headers":{"Content-Type":"text/plain"},"body":"h\u00e9llo"}]}`
	d := NewDecoder(strings.NewReader(in))
	it, err := d.Next()
	require.NoError(t, err)
	var sb strings.Builder
	n, err := io.Copy(&sb, iotest.OneByteReader(it))
	require.NoError(t, err)
	assert.Equal(t, int64(6), n)
	assert.Equal(t, "héllo", sb.String())
	assert.Equal(t, []byte(`"h\u00e9llo"`), it.RawBody())
	assert.Equal(t, "text/plain", string(it.Header().Get("content-type")))
	_, err = d.Next()
	assert.Equal(t, io.EOF, err)
}

func TestReset(t *testing.T) {
	d := NewDecoder(strings.NewReader(`{"requests":[` + okItem))
	_, err := d.Next()
	require.NoError(t, err)
	_, err = d.Next()
	require.ErrorIs(t, err, batch.ErrTruncated)
	d.Reset(strings.NewReader(`{"responses":[{"id":"9","status":204}]}`))
	it, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, Operation{Message: res, ID: "9", Status: 204}, it.Operation())
	_, err = d.Next()
	assert.Equal(t, io.EOF, err)
}

func TestItemIsLargerThanTheBuffer(t *testing.T) {
	body := strings.Repeat("x", 200<<10)
	in := `{"requests":[{"id":"1","method":"PUT","url":"/t","headers":{"Content-Type":"text/plain"},"body":"` + body + `"},` + okItem + `]}`
	ops, err := decodeAll(strings.NewReader(in), BufferSize(1024))
	require.NoError(t, err)
	require.Len(t, ops, 2)
	assert.Equal(t, body, string(ops[0].Body))
}

// TestDeepBody: nesting up to MaxDepth is read, one more is refused at the
// bracket that goes too deep, above the default as well.
func TestDeepBody(t *testing.T) {
	for _, depth := range []int{DefaultMaxDepth, 300} {
		// The item is level 1, so the body may nest depth-1 deep.
		body := strings.Repeat(`[{"a":`, (depth-1)/2) + `1` + strings.Repeat(`}]`, (depth-1)/2)
		if (depth-1)%2 == 1 {
			body = "[" + body + "]"
		}
		in := `{"requests":[{"id":"1","method":"POST","url":"/","body":` + body + `}]}`
		ops, err := decodeAll(strings.NewReader(in), MaxDepth(depth))
		require.NoError(t, err, "depth %d", depth)
		assert.Equal(t, body, string(ops[0].Body))

		_, err = decodeAll(strings.NewReader(in), MaxDepth(depth-1))
		require.ErrorIs(t, err, ErrTooDeep)
		se := syntaxError(t, err)
		// The deepest bracket is the last opening one.
		assert.Equal(t, int64(strings.LastIndexAny(in, "[{")), se.Offset)
		_, err1 := decodeAll(iotest.OneByteReader(strings.NewReader(in)), MaxDepth(depth-1))
		assert.Equal(t, err.Error(), err1.Error())
	}
}
