package batch_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/batchcodec/batch"
)

// A batch response as an OData v4 service sends it: one GET answered at the
// top level, and a changeset with one POST.
const response = "--batchresponse_1\r\n" +
	"Content-Type: application/http\r\n" +
	"Content-Transfer-Encoding: binary\r\n" +
	"\r\n" +
	"HTTP/1.1 200 OK\r\n" +
	"Content-Type: application/json\r\n" +
	"\r\n" +
	`{"value":[{"Subject":"Lunch"}]}` + "\r\n" +
	"--batchresponse_1\r\n" +
	"Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n" +
	"\r\n" +
	"--changesetresponse_2\r\n" +
	"Content-Type: application/http\r\n" +
	"Content-Transfer-Encoding: binary\r\n" +
	"Content-ID: 1\r\n" +
	"\r\n" +
	"HTTP/1.1 202 Accepted\r\n" +
	"\r\n" +
	"\r\n" +
	"--changesetresponse_2--\r\n" +
	"--batchresponse_1--\r\n"

// The decoding loop: Next until io.EOF, each operation's body read as a
// stream.
func ExampleNewDecoder() {
	d, err := batch.NewDecoder(strings.NewReader(response), "multipart/mixed; boundary=batchresponse_1")
	if err != nil {
		log.Fatal(err)
	}
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			fmt.Printf("changeset %s\n", p.Boundary())
		case batch.KindChangesetEnd:
			fmt.Printf("end of changeset %s\n", p.Boundary())
		case batch.KindOperation:
			body, err := io.ReadAll(p)
			if err != nil {
				log.Fatal(err)
			}
			id, _ := p.ContentID()
			fmt.Printf("%*s%d %s content-id=%q body=%s\n", 2*p.Depth(), "", p.StatusCode(), p.Reason(), id, body)
		}
	}
	// Output:
	// 200 OK content-id="" body={"value":[{"Subject":"Lunch"}]}
	// changeset changesetresponse_2
	//   202 Accepted content-id="1" body=
	// end of changeset changesetresponse_2
}

// Strict mode turns what the decoder tolerates into errors, for validating
// the output of a batch writer. Here the writer used bare LF line endings.
func ExampleStrict() {
	lf := strings.ReplaceAll(response, "\r\n", "\n")
	for _, strict := range []bool{false, true} {
		d, err := batch.NewDecoder(strings.NewReader(lf), "multipart/mixed; boundary=batchresponse_1", batch.Strict(strict))
		if err != nil {
			log.Fatal(err)
		}
		p, err := d.Next()
		var se *batch.SyntaxError
		switch {
		case errors.As(err, &se) && errors.Is(err, batch.ErrNonconforming):
			fmt.Printf("strict: %s at offset %d\n", se.Deviation, se.Offset)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("tolerant: %d %s, deviations: %s\n", p.StatusCode(), p.Reason(), p.Deviations())
		}
	}
	// Output:
	// tolerant: 200 OK, deviations: bare LF line ending
	// strict: bare LF line ending at offset 0
}

// A truncated batch is an error matching ErrTruncated, with the offset where
// the input ended and the part being read: never a shorter batch that looks
// complete.
func ExampleErrTruncated() {
	cut := response[:len(response)-40]
	d, err := batch.NewDecoder(strings.NewReader(cut), "multipart/mixed; boundary=batchresponse_1")
	if err != nil {
		log.Fatal(err)
	}
	for {
		p, err := d.Next()
		if err != nil {
			fmt.Println(errors.Is(err, batch.ErrTruncated), err)
			return
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			fmt.Println(errors.Is(err, batch.ErrTruncated), err)
			return
		}
	}
	// Output:
	// true batch: truncated input at offset 394 in part 2 (0-based, every MIME part counted): input ended inside a body
}

// Part.Operation copies an operation out of the decoder's buffer, to keep it
// beyond the next call to Next.
func ExamplePart_Operation() {
	d, err := batch.NewDecoder(strings.NewReader(response), "multipart/mixed; boundary=batchresponse_1")
	if err != nil {
		log.Fatal(err)
	}
	var kept []batch.Operation
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if p.Kind() == batch.KindOperation {
			kept = append(kept, p.Operation())
		}
	}
	for _, op := range kept {
		fmt.Printf("%s %d %s %v\n", op.Message, op.StatusCode, op.Proto, op.Header)
	}
	// Output:
	// response 200 HTTP/1.1 [{Content-Type application/json}]
	// response 202 HTTP/1.1 []
}
