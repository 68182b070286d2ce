// Package batch reads and writes HTTP batch bodies: the multipart $batch
// payloads of OData (SharePoint, Outlook REST, Dynamics, SAP, Azure Table
// storage), Skype UCWA's multipart/batching, and their kin.
//
// A batch body is a tree of MIME parts, batch → changeset → operation, whose
// leaves are embedded HTTP/1.1 requests or responses:
//
//	--batch_X                                  delimiter line
//	Content-Type: application/http             MIME part headers
//	Content-Transfer-Encoding: binary
//	                                           blank line
//	GET /api/v2.0/me/events HTTP/1.1           embedded start line
//	Accept: application/json                   embedded HTTP headers
//	                                           blank line
//	                                           body (here empty)
//	--batch_X                                  the CRLF before it is the delimiter's
//	Content-Type: multipart/mixed; boundary=changeset_Y
//
//	--changeset_Y
//	Content-Type: application/http
//	Content-ID: 1
//
//	POST /api/v2.0/me/sendmail HTTP/1.1
//	Content-Type: application/json
//
//	{"Message": …}
//	--changeset_Y--
//	--batch_X--                                close delimiter
//
// The [Decoder] reads such a body from an io.Reader as a flat stream of
// parts in document order, with the loop of mime/multipart:
// [Decoder.Next] returns each operation and each changeset's start and end,
// and io.EOF after the batch's close delimiter. A [Part] is an io.Reader over
// its body. The [Encoder] writes the same structure to an io.Writer.
//
// # Streaming and zero copy
//
// The decoder holds one read buffer ([BufferSize]) and scans it once for the
// delimiters of every open boundary (a changeset's and its parents'), so
// memory stays bounded by the buffer and the header limits whatever the
// input size. Start lines and headers are handed out as []byte views into
// the decoder's storage: "The returned slice is only valid until the next
// call to Next, and must not be modified." [Part.Operation] copies them out.
//
// # Reading tolerantly
//
// Real servers depart from RFC 2046 and RFC 9112 in ways a reader must
// accept: bare LF line endings decided per line, a byte order mark before the
// first delimiter, runs of spaces in request lines, HTTP/2.0 in embedded
// start lines, changesets left unclosed, Content-Length values that disagree
// with the body, header blocks that run into the next delimiter. Each is
// accepted and recorded on the part as a [Deviation]; the [Strict] option
// turns each into an error. The README's quirks table maps every quirk of the
// project's wire specification to how it is handled and to its test vector.
// Bodies are never altered: no trimming, no charset or transfer decoding; an
// embedded Content-Length is only a hint, the delimiter is the truth.
//
// # Errors
//
// Bad input gets a [*SyntaxError] carrying the byte offset and the index of
// the part, wrapping a sentinel such as [ErrTruncated] for use with
// errors.Is. Input that ends before the batch's close delimiter is always
// ErrTruncated: a truncated batch is never reported as a shorter, successful
// one. Errors from the underlying reader are returned as they are. Errors are
// sticky.
//
// # Limits
//
// Every limit is a [DecodeOption] with a finite default; a value of zero or
// less means the default:
//
//   - [BufferSize]: the read buffer, 64 KiB.
//   - [MaxLineLength]: one delimiter, header or start line, 16 KiB
//     ([ErrLineTooLong]). Body lines are not limited (but see [MaxLineLength]).
//   - [MaxHeaderBytes]: one part's MIME headers, and separately one
//     operation's start line and embedded headers, 64 KiB, each field also
//     charged 64 bytes of bookkeeping ([ErrHeaderTooLarge]).
//   - [MaxParts]: MIME parts in one batch, 10,000 ([ErrTooManyParts]).
//   - [MaxDepth]: multipart nesting, the batch counting as 1, 5
//     ([ErrTooDeep]); OData needs 2 (a batch holding changesets).
//
// # Options
//
// The decoder takes [DecodeOption] values and the encoder [EncodeOption]
// values: two types, so that an option meant for one side does not compile
// on the other. [Decoder.Reset] starts again from the defaults with the
// options it is given.
//
// # net/http
//
// This package imports no net/http. Package
// github.com/batchcodec/batch/batchhttp converts parts to and from
// *http.Request and *http.Response values, and holds a client that sends
// requests as one batch and a server middleware that runs a batch through
// any http.Handler.
package batch
