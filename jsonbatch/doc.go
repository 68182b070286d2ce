// Package jsonbatch reads and writes JSON batch documents: the JSON format
// of OData 4.01 batches (OData JSON Format 4.01 §19, "Batch Requests and
// Responses") and Microsoft Graph's JSON batching, the successor of the
// multipart batches of package [batch].
//
// A JSON batch is one object holding an array of requests or of responses:
//
//	{
//	  "requests": [
//	    {"id": "1", "method": "GET", "url": "/me/events"},
//	    {"id": "2", "atomicityGroup": "g1", "dependsOn": ["1"],
//	     "method": "POST", "url": "/me/events",
//	     "headers": {"content-type": "application/json"},
//	     "body": {"subject": "Review"}}
//	  ]
//	}
//
//	{"responses": [{"id": "2", "status": 201, "headers": {…}, "body": {…}}]}
//
// The [Decoder] yields one item at a time with the loop of mime/multipart
// and of the multipart codec: [Decoder.Next] returns each request or
// response as an [Item] and io.EOF after the document's closing brace. The
// [Encoder] writes one [Operation] at a time and closes the document on
// [Encoder.Close]. [FromMultipart] and [ToMultipart] convert between the
// two batch formats.
//
// # Members
//
// Members may come in any order ("id" after "body" is fine); members the
// package does not know (instance annotations such as "@odata.etag",
// vendor extensions) are validated and skipped, in items and in the
// document ("@odata.context", "@odata.nextLink"). A known member whose
// value is null counts as absent. A request needs "id", "method" and "url";
// a response "id" and "status" (an integer from 100 to 999). A member
// repeated in an item is an error (I-JSON, RFC 7493); repeated header names
// are kept in order, as in a multipart header block. Header names are read
// case-insensitively ([batch.Header.Get]).
//
// # Bodies
//
// How a body is written depends on the item's Content-Type ([BodyKindOf]):
// a JSON value for application/json, any +json type, or no Content-Type; a
// JSON string holding the text for text/*; a string holding the bytes in
// base64url (OData) or base64 (Graph) for anything else. The decoder accepts
// both base64 alphabets, padded or not. A body that is not a string is
// always read as JSON, whatever the Content-Type says. [Item.Body] is the
// decoded body: the JSON value's bytes exactly as they stand in the input
// (bodies are never reformatted), the unescaped text, or the decoded bytes;
// [Item.RawBody] is the value as written; the Item is an io.Reader over the
// decoded body.
//
// # Memory
//
// Members may come in any order, so an item's body may come before the
// headers that say how to read it, and before the id that names it. The
// decoder therefore holds each item whole, and only one: it reads the
// document through one buffer, finds where the current item ends with a
// resumable scanner (bytes are scanned once however the input is chunked,
// and nothing is read beyond what the item needs), then parses the held
// item in one pass, strictly (RFC 8259: grammar, escapes, UTF-8). An item
// already in the buffer is parsed directly. Strings without escapes, JSON
// bodies and header values are zero-copy views into the buffer: "The
// returned slice is only valid until the next call to Next, and must not be
// modified." Escaped strings and text and binary bodies are decoded into a
// second buffer. Memory is thus bounded by [MaxItemBytes] (twice that at
// most), whatever the size of the document: a 1 GiB batch of 64 KiB bodies
// decodes with less than 1 MiB of heap growth (TestStreamOneGiB). Streaming a body before its item is
// complete would work only when "body" is the last member, which writers
// do not promise; the limit is the honest bound instead.
//
// # Errors
//
// Bad input gets the multipart codec's error type, a [*batch.SyntaxError]
// with the byte offset in the input and the index of the item (Part), so
// that one errors.As serves both formats. Its Err is [batch.ErrTruncated]
// (input ended before the document did: never reported as a shorter
// success), [batch.ErrHeaderTooLarge], [batch.ErrTooManyParts], or one of
// this package's sentinels: [ErrSyntax], [ErrInvalidItem], [ErrTooDeep],
// [ErrBodyTooLarge], [ErrItemTooLarge]. Errors from the io.Reader are
// returned as they are. Errors are sticky. The encoder refuses what it
// cannot write with a [*batch.EncodeError] wrapping
// [batch.ErrInvalidOperation] or [batch.ErrEncoderState].
//
// # Limits
//
// Every limit is a [DecodeOption] with a finite default; n <= 0 means the
// default:
//
//   - [MaxItems]: requests or responses in one batch, 10,000
//     ([batch.ErrTooManyParts]).
//   - [MaxDepth]: nesting of JSON values in an item, the item being 1, 128
//     ([ErrTooDeep]).
//   - [MaxHeaderBytes]: one item's header names and values, each header
//     also charged 64 bytes, 64 KiB ([batch.ErrHeaderTooLarge]).
//   - [MaxBodyBytes]: one body as written, 8 MiB ([ErrBodyTooLarge]).
//   - [MaxItemBytes]: one item as written, and any other member of the
//     document, 9 MiB ([ErrItemTooLarge]). This bounds the memory.
//   - [BufferSize]: the initial read buffer, 64 KiB; it grows up to
//     MaxItemBytes for a larger item.
//
// What the decoder does not check: that ids are unique, that dependsOn
// names earlier requests, that the members of a group are adjacent, that a
// GET has no body. Those are the server's rules; the decoder hands out what
// the document says.
package jsonbatch
