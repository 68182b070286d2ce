package jsonbatch

import (
	"errors"

	"github.com/batchcodec/batch"
)

// Sentinel errors of the JSON batch decoder. Bad input is reported as a
// [*batch.SyntaxError] whose Err is one of these or one of the codec's own
// sentinels where the meaning is the same:
//
//   - [batch.ErrTruncated]: the input ended before the closing brace of the
//     document (also matches io.ErrUnexpectedEOF). A truncated batch is
//     never reported as a shorter, successful one.
//   - [batch.ErrHeaderTooLarge]: an item's headers exceed [MaxHeaderBytes].
//   - [batch.ErrTooManyParts]: the batch holds more items than [MaxItems].
//
// In a SyntaxError from this package, Offset is the byte offset in the
// input and Part is the 0-based index of the item being read (-1 before the
// first item). Errors from the underlying io.Reader are returned as they
// are.
var (
	// ErrSyntax: the input is not JSON (RFC 8259): an invalid character, a
	// missing comma or colon, a bad escape, a control character or invalid
	// UTF-8 inside a string, or data after the document.
	ErrSyntax = errors.New("jsonbatch: malformed JSON")

	// ErrInvalidItem: the input is JSON but not a batch: the document is
	// not an object, it has no "requests" or "responses" array or two of
	// them, an item is not an object, an item lacks a required member
	// ("id", "method" and "url" in a request; "id" and "status" in a
	// response), repeats a member, or has a member of the wrong type, a
	// status outside 100-999, or a base64 body that does not decode.
	ErrInvalidItem = errors.New("jsonbatch: invalid batch item")

	// ErrTooDeep: JSON values nest deeper than [MaxDepth].
	ErrTooDeep = errors.New("jsonbatch: JSON nested too deep")

	// ErrBodyTooLarge: an item's body, as written in the document, is
	// longer than [MaxBodyBytes].
	ErrBodyTooLarge = errors.New("jsonbatch: body too large")

	// ErrItemTooLarge: an item, or another member of the document, is
	// longer than [MaxItemBytes] and cannot be held in memory.
	ErrItemTooLarge = errors.New("jsonbatch: item too large")
)

// errNeedMore is the scanner's third answer besides "valid" and "invalid":
// the bytes ended inside a value. It never leaves the package; the decoder
// turns it into batch.ErrTruncated once the input has ended.
var errNeedMore = errors.New("jsonbatch: need more input")

// errBadRead is returned for an io.Reader that returns an invalid count.
var errBadRead = errors.New("jsonbatch: reader returned an invalid count")

// errorAt returns the error for bad input at input offset off, in the item
// being read.
func (d *Decoder) errorAt(off int64, err error, detail string) error {
	return &batch.SyntaxError{Offset: off, Part: d.nitems - 1, Err: err, Detail: detail}
}

// truncated is the error for input that ends before the document does.
func (d *Decoder) truncated() error {
	return d.errorAt(d.base+int64(d.wp), batch.ErrTruncated, "input ended before the end of the document")
}
