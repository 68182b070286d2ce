package jsonbatch_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// A Graph-style JSON batch: the second request's body comes before its id
// and is read as JSON; the third's is base64, as its Content-Type is not
// JSON or text.
const requests = `{
  "requests": [
    {"id": "1", "method": "GET", "url": "/me/messages?$top=2"},
    {"body": {"subject": "Lunch"}, "headers": {"Content-Type": "application/json"},
     "id": "2", "dependsOn": ["1"], "method": "POST", "url": "/me/events"},
    {"id": "3", "method": "PUT", "url": "/me/photo/$value",
     "headers": {"Content-Type": "image/png"}, "body": "iVBORw0KGgo="}
  ]
}`

// The decoding loop: Next until io.EOF; each item's body is an io.Reader.
func ExampleNewDecoder() {
	d := jsonbatch.NewDecoder(strings.NewReader(requests))
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(it)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %s depends on %q, %s body %q\n", it.ID(), it.Method(), it.URL(), it.DependsOn(), it.BodyKind(), body)
	}
	// Output:
	// 1 GET /me/messages?$top=2 depends on [], none body ""
	// 2 POST /me/events depends on ["1"], json body "{\"subject\": \"Lunch\"}"
	// 3 PUT /me/photo/$value depends on [], binary body "\x89PNG\r\n\x1a\n"
}

// Limits are options; exceeding one, like any bad input, is a
// *batch.SyntaxError with the byte offset and the item's index.
func ExampleDecoder_options() {
	d := jsonbatch.NewDecoder(strings.NewReader(requests), jsonbatch.MaxItems(2))
	for {
		_, err := d.Next()
		var se *batch.SyntaxError
		if errors.As(err, &se) && errors.Is(err, batch.ErrTooManyParts) {
			fmt.Printf("refused at offset %d, item %d\n", se.Offset, se.Part)
			break
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// refused at offset 246, item 2
}

// The encoder writes one operation at a time; the body is written as its
// Content-Type calls for.
func ExampleNewEncoder() {
	e, err := jsonbatch.NewEncoder(os.Stdout, batch.Response, jsonbatch.WithDialect(jsonbatch.Graph))
	if err != nil {
		log.Fatal(err)
	}
	for _, op := range []jsonbatch.Operation{
		{ID: "1", Status: 200, Header: []batch.Field{{Name: "Content-Type", Value: "application/json"}}, Body: []byte(`{"value":[]}`)},
		{ID: "2", Status: 201, Header: []batch.Field{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("created\n")},
		{ID: "3", Status: 200, Header: []batch.Field{{Name: "Content-Type", Value: "image/png"}}, Body: []byte("\x89PNG")},
	} {
		if err := e.WriteOperation(&op); err != nil {
			log.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"responses":[{"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":{"value":[]}},{"id":"2","status":201,"headers":{"Content-Type":"text/plain"},"body":"created\n"},{"id":"3","status":200,"headers":{"Content-Type":"image/png"},"body":"iVBORw=="}]}
}

// A multipart batch converted to a JSON batch: the changeset becomes an
// atomicity group, the Content-IDs become ids, and the operation without
// one gets a generated id.
func ExampleFromMultipart() {
	const multipart = "--b\r\n" +
		"Content-Type: application/http\r\n\r\n" +
		"GET Customers HTTP/1.1\r\n\r\n\r\n" +
		"--b\r\n" +
		"Content-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		"--cs\r\n" +
		"Content-Type: application/http\r\nContent-ID: 1\r\n\r\n" +
		"POST Customers HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" +
		`{"Name":"Ana"}` + "\r\n" +
		"--cs\r\n" +
		"Content-Type: application/http\r\nContent-ID: 2\r\n\r\n" +
		"POST $1/Orders HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" +
		`{"Item":"tea"}` + "\r\n" +
		"--cs--\r\n" +
		"--b--\r\n"
	d, err := batch.NewDecoder(strings.NewReader(multipart), "multipart/mixed; boundary=b")
	if err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer
	e, err := jsonbatch.NewEncoder(&out, batch.Request)
	if err != nil {
		log.Fatal(err)
	}
	if err := jsonbatch.FromMultipart(e, d); err != nil {
		log.Fatal(err)
	}
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.String())
	// Output:
	// {"requests":[{"id":"op1","method":"GET","url":"Customers"},{"id":"1","atomicityGroup":"cs","method":"POST","url":"Customers","headers":{"content-type":"application/json"},"body":{"Name":"Ana"}},{"id":"2","atomicityGroup":"cs","dependsOn":["1"],"method":"POST","url":"$1/Orders","headers":{"content-type":"application/json"},"body":{"Item":"tea"}}]}
}
