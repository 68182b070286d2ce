package batch

import (
	"errors"
	"io"
	"strconv"
	"strings"
)

// Sentinel errors. A decoding error is a [*SyntaxError] whose Err is one of
// these, so both errors.Is(err, ErrTruncated) and errors.As(err, &syntaxErr)
// work. Errors from the underlying io.Reader are returned as they are.
var (
	// ErrTruncated: the input ended before the close delimiter of the
	// outermost batch, inside a part's headers, or inside a body. A
	// truncated batch is never reported as a shorter, successful one. It
	// also matches io.ErrUnexpectedEOF.
	ErrTruncated error = &truncatedError{}

	// ErrNoDelimiter: the input ended without a single delimiter line of
	// the batch's boundary. The input was empty, cut before its first
	// delimiter, not a batch at all, or delimited by another boundary than
	// the one given; the Detail names the line it looked for and the first
	// line that looks like a delimiter of some other boundary, if any.
	//
	// As input cut before its first delimiter is truncated input, it also
	// matches ErrTruncated and io.ErrUnexpectedEOF, so that errors.Is(err,
	// ErrTruncated) still catches every truncation; test for ErrNoDelimiter
	// first to tell the two apart.
	ErrNoDelimiter error = &noDelimiterError{}

	// ErrContentType: the media type is not multipart/*, or it has no
	// boundary parameter.
	ErrContentType = errors.New("batch: not a multipart media type with a boundary")

	// ErrBoundary: a boundary the codec refuses. The decoder refuses a
	// boundary that is empty, longer than 200 bytes, ends in a space, or
	// holds a control byte, a non-ASCII byte or '"', and a changeset
	// boundary equal to an enclosing one; it tolerates, as [DevBoundary], a
	// boundary outside RFC 2046 that is otherwise readable, such as the
	// Outlook documentation's "batch_{batchId}" or one of 71 to 200
	// characters. The encoder refuses every boundary that is not valid under
	// RFC 2046 ([ValidBoundary]: 1 to 70 characters from its set, not ending
	// in a space).
	ErrBoundary = errors.New("batch: invalid boundary")

	// ErrHeader: a MIME part header or embedded HTTP header line is
	// malformed (no colon, or an empty name).
	ErrHeader = errors.New("batch: malformed header line")

	// ErrStartLine: an embedded request line or status line is malformed,
	// or an operation holds no HTTP message at all.
	ErrStartLine = errors.New("batch: malformed start line")

	// ErrLineTooLong: a header line, start line or delimiter line is longer
	// than [MaxLineLength].
	ErrLineTooLong = errors.New("batch: line too long")

	// ErrHeaderTooLarge: a part's MIME headers or an operation's embedded
	// headers exceed [MaxHeaderBytes].
	ErrHeaderTooLarge = errors.New("batch: header block too large")

	// ErrTooManyParts: the batch has more parts than [MaxParts].
	ErrTooManyParts = errors.New("batch: too many parts")

	// ErrTooDeep: changesets are nested deeper than [MaxDepth].
	ErrTooDeep = errors.New("batch: changesets nested too deep")

	// ErrNonconforming: strict mode ([Strict]) met a deviation that is
	// tolerated otherwise; [SyntaxError.Deviation] says which.
	ErrNonconforming = errors.New("batch: nonconforming input")
)

// Errors for broken io.Reader and io.Writer implementations.
var (
	errBadRead  = errors.New("batch: reader returned an invalid count")
	errBadWrite = errors.New("batch: writer returned an invalid count")
)

// truncatedError is ErrTruncated: its own type so that it can also match
// io.ErrUnexpectedEOF, as a body reader's early end should under the
// io.Reader contract.
type truncatedError struct{}

func (*truncatedError) Error() string { return "batch: truncated input" }

func (*truncatedError) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// noDelimiterError is ErrNoDelimiter: a kind of truncation.
type noDelimiterError struct{}

func (*noDelimiterError) Error() string { return "batch: no delimiter line found" }

func (*noDelimiterError) Is(target error) bool {
	return target == ErrTruncated || target == io.ErrUnexpectedEOF
}

// SyntaxError is the error for bad input: what went wrong (Err, one of the
// sentinels above), where in the input (Offset), and in which part (Part).
type SyntaxError struct {
	// Offset is the byte offset in the input where the problem was found,
	// or -1 when the problem is not in the input (a Content-Type or
	// boundary given to [NewDecoder], [NewDecoderBoundary] or
	// [ParseContentType]).
	Offset int64
	// Part is the index of the MIME part being read, or -1 before the
	// first part. It counts from 0 in document order, every MIME part
	// alike: operations, changeset starts and other parts, at every depth,
	// as [Part.Index] does. It is not an operation number such as the "#N"
	// of batchcat's tree, which counts operations only.
	Part int
	// Err is the sentinel saying what went wrong.
	Err error
	// Deviation is set when Err is ErrNonconforming.
	Deviation Deviation
	// Detail says what was found, for people; it is not meant to be parsed.
	Detail string
}

// Error returns "batch: <what> at offset N in part I (0-based, every MIME
// part counted): <detail>", or "... at offset N before the first part: ...".
// Without an offset (Offset < 0), the place is left out: "batch: <what>:
// <detail>".
func (e *SyntaxError) Error() string {
	var b strings.Builder
	msg := "batch: syntax error"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	b.WriteString(msg)
	if e.Deviation != 0 {
		b.WriteString(" (")
		b.WriteString(e.Deviation.String())
		b.WriteString(")")
	}
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		if e.Part < 0 {
			b.WriteString(" before the first part")
		}
	}
	if e.Part >= 0 {
		b.WriteString(" in part ")
		b.WriteString(strconv.Itoa(e.Part))
		b.WriteString(" (0-based, every MIME part counted)")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Deviation is a set of tolerated departures from the RFCs, one bit each. The
// decoder accepts them and records them on the part ([Part.Deviations]); in
// strict mode ([Strict]) the first one met is an [ErrNonconforming] error
// instead. The quirk numbers in the constants' docs refer to the quirks
// table of the README; the bits are not numbered after them.
type Deviation uint32

const (
	// DevBareLF: a delimiter, MIME header or embedded header line ends in
	// a bare LF (quirks 4, 12). Body bytes are never judged.
	DevBareLF Deviation = 1 << iota
	// DevBOM: a UTF-8 byte order mark before the first delimiter (quirk 13).
	DevBOM
	// DevRequestLine: runs of spaces in a request or status line (quirk 6).
	DevRequestLine
	// DevBlankBeforeStartLine: blank lines before the embedded start line
	// (quirk 16).
	DevBlankBeforeStartLine
	// DevProtoVersion: an embedded start line with a protocol other than
	// HTTP/1.1 (quirk 16).
	DevProtoVersion
	// DevNoReason: a status line without the space before the reason
	// phrase (quirk 16).
	DevNoReason
	// DevNoBlankLine: an embedded header block that runs into the next
	// delimiter without its blank line (quirk 16).
	DevNoBlankLine
	// DevContentLength: the embedded Content-Length disagrees with the
	// body that runs to the delimiter, or is not a number (quirk 17).
	DevContentLength
	// DevUnclosedChangeset: a changeset ended by its parent's delimiter
	// instead of its own close delimiter (quirk 15).
	DevUnclosedChangeset
	// DevMsgType: the msgtype parameter disagrees with the first line,
	// which wins (quirk 3).
	DevMsgType
	// DevObsFold: a header continued on a line starting with a space or
	// tab (obsolete line folding); the decoder joins it with one space.
	DevObsFold
	// DevBoundary: a boundary RFC 2046 does not allow, such as the Outlook
	// documentation's "batch_{batchId}" or one longer than 70 characters.
	DevBoundary
	// DevHeaderSyntax: whitespace between a header name and its colon, or a
	// lone CR inside a header value (RFC 9112 §5.1, §2.2); the name is read
	// without the whitespace and the value as it is.
	DevHeaderSyntax
)

var devNames = [...]string{
	"bare LF line ending",
	"byte order mark before the first delimiter",
	"extra spaces in the start line",
	"blank lines before the start line",
	"protocol other than HTTP/1.1",
	"status line without reason phrase",
	"header block without blank line",
	"Content-Length disagrees with the body",
	"changeset not closed",
	"msgtype disagrees with the start line",
	"folded header line",
	"boundary outside RFC 2046",
	"malformed header line",
}

// String names the deviations in d, separated by commas.
func (d Deviation) String() string {
	if d == 0 {
		return "none"
	}
	var b strings.Builder
	for i, name := range devNames {
		if d&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
		}
	}
	if rest := d &^ (1<<len(devNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("deviation(0x" + strconv.FormatUint(uint64(rest), 16) + ")")
	}
	return b.String()
}
