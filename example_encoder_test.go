package batch_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/batchcodec/batch"
)

// Example writes the Outlook REST sample batch: GET the signed-in user's
// events, then POST a message to send. A fixed boundary keeps the output
// stable; by default it is random. The body is the request body of a
// POST https://outlook.office.com/api/v2.0/me/$batch whose Content-Type is
// e.ContentType(). Line ends are CRLF on the wire; the output below shows
// them as ↵.
func Example() {
	var out strings.Builder
	e, err := batch.NewEncoder(&out, batch.WithBoundary("batch_myBatchId"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Content-Type:", e.ContentType())

	err = e.WriteOperation(&batch.Operation{
		Message: batch.Request,
		Method:  "GET",
		Target:  "/api/v2.0/me/events?$select=subject,organizer",
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	err = e.WriteOperation(&batch.Operation{
		Message: batch.Request,
		Method:  "POST",
		Target:  "/api/v2.0/me/sendmail",
		Header:  []batch.Field{{Name: "Content-Type", Value: "application/json"}},
	}, strings.NewReader(`{"Message":{"Subject":"Meet for lunch?","ToRecipients":[{"EmailAddress":{"Address":"rufus@contoso.com"}}]}}`))
	if err != nil {
		log.Fatal(err)
	}
	// Close writes the close delimiter and the line break Outlook requires
	// after it when the batch ends with a POST.
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString(strings.ReplaceAll(out.String(), "\r\n", "↵\n"))
	// Output:
	// Content-Type: multipart/mixed; boundary=batch_myBatchId
	// --batch_myBatchId↵
	// Content-Type: application/http↵
	// Content-Transfer-Encoding: binary↵
	// ↵
	// GET /api/v2.0/me/events?$select=subject,organizer HTTP/1.1↵
	// ↵
	// ↵
	// --batch_myBatchId↵
	// Content-Type: application/http↵
	// Content-Transfer-Encoding: binary↵
	// ↵
	// POST /api/v2.0/me/sendmail HTTP/1.1↵
	// Content-Type: application/json↵
	// ↵
	// {"Message":{"Subject":"Meet for lunch?","ToRecipients":[{"EmailAddress":{"Address":"rufus@contoso.com"}}]}}↵
	// --batch_myBatchId--↵
}

// ExampleEncoder_BeginChangeset puts two writes in an OData changeset, each
// with a Content-ID that later requests in the changeset can refer to as $1
// and $2.
func ExampleEncoder_BeginChangeset() {
	var out strings.Builder
	e, err := batch.NewEncoder(&out, batch.WithBoundary("batch_1"), batch.FinalLineBreak(false))
	if err != nil {
		log.Fatal(err)
	}
	if err := e.BeginChangesetWith("changeset_1", nil); err != nil {
		log.Fatal(err)
	}
	for i, target := range []string{"/Customers", "$1/Orders"} {
		w, err := e.CreateOperation(&batch.Operation{
			Message:   batch.Request,
			ContentID: fmt.Sprint(i + 1),
			Method:    "POST",
			Target:    target,
			Header:    []batch.Field{{Name: "content-type", Value: "application/json"}},
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprint(w, `{}`)
	}
	if err := e.EndChangeset(); err != nil {
		log.Fatal(err)
	}
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString(strings.ReplaceAll(out.String(), "\r\n", "↵\n"))
	// Output:
	// --batch_1↵
	// Content-Type: multipart/mixed; boundary=changeset_1↵
	// ↵
	// --changeset_1↵
	// Content-Type: application/http↵
	// Content-Transfer-Encoding: binary↵
	// Content-ID: 1↵
	// ↵
	// POST /Customers HTTP/1.1↵
	// Content-Type: application/json↵
	// ↵
	// {}↵
	// --changeset_1↵
	// Content-Type: application/http↵
	// Content-Transfer-Encoding: binary↵
	// Content-ID: 2↵
	// ↵
	// POST $1/Orders HTTP/1.1↵
	// Content-Type: application/json↵
	// ↵
	// {}↵
	// --changeset_1--↵
	// --batch_1--
}
