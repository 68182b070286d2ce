package batch

import (
	"io"
	"strings"
)

// This file holds the encoder's test vectors: the seed documents' sample
// batches as operations, for the golden and round-trip tests.

// step is one call on an Encoder: a changeset's start or end, or an
// operation with its body.
type step struct {
	begin      bool
	csBoundary string
	csHeader   []Field
	end        bool
	op         *Operation
	body       string
}

// run performs the steps on e and closes it.
func run(e *Encoder, steps []step) error {
	for _, s := range steps {
		var err error
		switch {
		case s.begin:
			err = e.BeginChangesetWith(s.csBoundary, s.csHeader)
		case s.end:
			err = e.EndChangeset()
		default:
			var w io.Writer
			w, err = e.CreateOperation(s.op)
			if err == nil {
				_, err = io.WriteString(w, s.body)
			}
		}
		if err != nil {
			return err
		}
	}
	return e.Close()
}

// crlfText turns the LF line ends of a Go raw string into CRLF, as the
// golden files are normalised.
func crlfText(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// goldenVector is a seed's sample batch: the steps that encode it, and the
// file holding the seed's bytes normalised by testdata/golden/normalize.sh.
type goldenVector struct {
	name        string
	file        string
	opts        []EncodeOption
	contentType string
	steps       []step
}

const sendmailJSON = `{
  "Message": {
    "Subject": "Meet for lunch?",
    "Body": {
      "ContentType": "Text",
      "Content": "The new cafeteria is open."
    },
    "ToRecipients": [
      {
        "EmailAddress": {
          "Address": "rufus@contoso.com"
        }
      }
    ]
  }
}`

const eventsJSON = `{
    "@odata.context":"https://outlook.office.com/api/v2.0/$metadata#Me/Events(Subject,Organizer)",
    "value":[
        {
            "@odata.id":"https://outlook.office.com/api/v2.0/Users('cd209b0b-3f83-4c35-82d2-d88a61820480@8b5d41d8-b1af-495e-b871-8bbd867ba67a')/Events('AAMkAGI1AAAt9AHkAAA=')",
            "@odata.etag":"W/\"ZlnW4RIAV06KYYwlrfNZvQAALfZeSA==\"",
            "Id":"AAMkAGI1AAAt9AHkAAA=",
            "Subject":"Let's go for lunch",
            "Organizer":{
                "EmailAddress":{
                    "Name":"Dana Swope",
                    "Address":"danas@contoso.onmicrosoft.com"
                }
            }
        },
        {
            "@odata.id":"https://outlook.office.com/api/v2.0/Users('cd209b0b-3f83-4c35-82d2-d88a61820480@8b5d41d8-b1af-495e-b871-8bbd867ba67a')/Events('AAMkAGI1AAAtCq6LAAA=')",
            "@odata.etag":"W/\"ZlnW4RIAV06KYYwlrfNZvQAALQzodA==\"",
            "Id":"AAMkAGI1AAAtCq6LAAA=",
            "Subject":"Prep for customer visit",
            "Organizer":{
                "EmailAddress":{
                    "Name":"Dana Swope",
                    "Address":"danas@contoso.onmicrosoft.com"
                }
            }
        }
    ]
}`

func goldenVectors() []goldenVector {
	spTarget := "https://[your-sharepoint-site]/_api/web/lists/getbytitle('Drivers')/items"
	spJSON := Field{Name: "Content-Type", Value: "application/json;odata=verbose"}
	return []goldenVector{{
		// Seed 004: Outlook REST v2.0, "Requête par lot". The seed's
		// sendmail body ends in a line holding one space before the
		// close delimiter; body bytes are kept as they are.
		name:        "outlook-v2.0",
		file:        "outlook_v2.batch",
		opts:        []EncodeOption{WithBoundary("batch_myBatchId")},
		contentType: "multipart/mixed; boundary=batch_myBatchId",
		steps: []step{
			{op: &Operation{Message: Request, Method: "GET", Target: "/api/v2.0/me/events?$select=subject,organizer"}},
			{op: &Operation{Message: Request, Method: "POST", Target: "/api/v2.0/me/sendmail",
				Header: []Field{{Name: "Content-Type", Value: "application/json"}}},
				body: crlfText(sendmailJSON + "\n ")},
		},
	}, {
		// Seed 002: Outlook REST beta; the body ends in a line break.
		name:        "outlook-beta",
		file:        "outlook_beta.batch",
		opts:        []EncodeOption{WithBoundary("batch_myBatchId")},
		contentType: "multipart/mixed; boundary=batch_myBatchId",
		steps: []step{
			{op: &Operation{Message: Request, Method: "GET", Target: "/api/beta/me/events?$select=subject,organizer"}},
			{op: &Operation{Message: Request, Method: "POST", Target: "/api/beta/me/sendmail",
				Header: []Field{{Name: "Content-Type", Value: "application/json"}}},
				body: crlfText(sendmailJSON + "\n")},
		},
	}, {
		// Seed 004: the Outlook v2.0 batch response, with the default
		// reason phrase of 202 and the canonical "Odata-Version".
		name:        "outlook-v2.0-response",
		file:        "outlook_v2_response.batch",
		opts:        []EncodeOption{WithBoundary("batchresponse_caad32b6-3fa6-4346-94d0-ee98e067318a")},
		contentType: "multipart/mixed; boundary=batchresponse_caad32b6-3fa6-4346-94d0-ee98e067318a",
		steps: []step{
			{op: &Operation{Message: Response, StatusCode: 200, Reason: "OK", Header: []Field{
				{Name: "OData-Version", Value: "4.0"},
				{Name: "Content-Type", Value: "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"},
			}}, body: crlfText(eventsJSON)},
			{op: &Operation{Message: Response, StatusCode: 202}},
		},
	}, {
		// Seed 001: SharePoint (OData v3), a GET and a changeset of two
		// POSTs whose part carries Host and Content-Length.
		name:        "sharepoint",
		file:        "sharepoint.batch",
		opts:        []EncodeOption{WithDialect(SharePoint), ChangesetContentLength(1 << 20), WithBoundary("batch_45473b4e-5ce5-409d-dd5a-3d60082df906")},
		contentType: "multipart/mixed; boundary=batch_45473b4e-5ce5-409d-dd5a-3d60082df906",
		steps: []step{
			{op: &Operation{Message: Request, Method: "GET", Target: spTarget + "?$orderby=Title", Header: []Field{
				{Name: "Host", Value: "[your-sponline-domain]"},
				{Name: "Accept", Value: "application/json;odata=verbose"},
			}}},
			{begin: true, csBoundary: "changeset_f9c96a07-641a-4897-90ed-d285d2dbfc2e",
				csHeader: []Field{{Name: "Host", Value: "[your-sponline-domain]"}}},
			{op: &Operation{Message: Request, Method: "POST", Target: spTarget, Header: []Field{spJSON}},
				body: crlfText(`{"__metadata":{"type":"SP.Data.DriversListItem"},"Title":"Fernando Alonso","Team":"Ferrari"}` + "\n")},
			{op: &Operation{Message: Request, Method: "POST", Target: spTarget, Header: []Field{spJSON}},
				body: crlfText(`{"__metadata":{"type":"SP.Data.DriversListItem"},"Title":"Filipe Massa","Team":"Ferrari"}` + "\n")},
			{end: true},
		},
	}, {
		// Seed 003: UCWA, two GETs in multipart/batching. The seed's
		// Content-Type has no space after ";".
		name:        "ucwa",
		file:        "ucwa.batch",
		opts:        []EncodeOption{WithDialect(UCWA), WithBoundary("77f2569d-c005-442b-b856-782305305e5f")},
		contentType: "multipart/batching; boundary=77f2569d-c005-442b-b856-782305305e5f",
		steps: []step{
			{op: &Operation{Message: Request, Method: "GET", Target: "/ucwa/oauth/v1/applications/103/people/contacts", Header: []Field{
				{Name: "Host", Value: "lyncweb.contoso.com"},
				{Name: "Accept", Value: "application/json"},
			}}},
			{op: &Operation{Message: Request, Method: "GET", Target: "/ucwa/oauth/v1/applications/103/me", Header: []Field{
				{Name: "Host", Value: "lyncweb.contoso.com"},
				{Name: "Accept", Value: "application/json"},
			}}},
		},
	}}
}
