package jsonbatch

import "encoding/base64"

// The package has two option types, one per side, so that an option meant
// for the other side is a compile-time error: [DecodeOption] for
// [NewDecoder] and [Decoder.Reset], [EncodeOption] for [NewEncoder]. Later
// options override earlier ones. Every limit follows the codec's rule: a
// value of zero or less means the default; there is no "unlimited".

// DecodeOption configures a [Decoder]. [Decoder.Reset] starts again from the
// defaults and applies only the options passed to it, so every decoding
// option can be changed by Reset.
type DecodeOption func(*decodeOptions)

type decodeOptions struct {
	bufferSize int
	maxItems   int
	maxDepth   int
	maxHeader  int
	maxBody    int
	maxItem    int
}

// Defaults of the decoder's limits. See doc.go, "Limits".
const (
	DefaultBufferSize     = 64 << 10
	DefaultMaxItems       = 10000
	DefaultMaxDepth       = 128
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMaxItemBytes   = 9 << 20

	minBufferSize = 512
	maxMaxDepth   = 10000
	// fieldOverhead is charged against MaxHeaderBytes for every header on
	// top of its bytes, as the multipart codec does, so that a block of
	// empty headers is not free.
	fieldOverhead = 64
)

func buildDecodeOptions(o *decodeOptions, opts []DecodeOption) {
	*o = decodeOptions{
		bufferSize: DefaultBufferSize,
		maxItems:   DefaultMaxItems,
		maxDepth:   DefaultMaxDepth,
		maxHeader:  DefaultMaxHeaderBytes,
		maxBody:    DefaultMaxBodyBytes,
		maxItem:    DefaultMaxItemBytes,
	}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	o.bufferSize = max(o.bufferSize, minBufferSize)
	o.maxDepth = min(o.maxDepth, maxMaxDepth)
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// BufferSize sets the initial size of the decoder's read buffer. The buffer
// grows, up to [MaxItemBytes], when one item does not fit. Affects decoding.
// Default [DefaultBufferSize] (64 KiB); n <= 0 means the default; values
// below 512 are raised to 512.
func BufferSize(n int) DecodeOption {
	return func(o *decodeOptions) { o.bufferSize = orDefault(n, DefaultBufferSize) }
}

// MaxItems limits the number of requests or responses in one batch.
// Affects decoding. Default [DefaultMaxItems] (10,000; Microsoft Graph
// allows 20); n <= 0 means the default. Exceeding it is
// [batch.ErrTooManyParts].
func MaxItems(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxItems = orDefault(n, DefaultMaxItems) }
}

// MaxDepth limits how deep JSON values nest inside one item, the item object
// counting as 1 (its headers object is 2, a body object 2, an object inside
// the body 3), and inside any other member of the document, counted from
// that member's value. Affects decoding. Default [DefaultMaxDepth] (128);
// n <= 0 means the default; values above 10,000 are lowered to 10,000.
// Exceeding it is [ErrTooDeep].
func MaxDepth(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxDepth = orDefault(n, DefaultMaxDepth) }
}

// MaxHeaderBytes limits the bytes of one item's header names and values as
// written, each header also charged 64 bytes of bookkeeping. Affects
// decoding. Default [DefaultMaxHeaderBytes] (64 KiB, as the multipart
// codec); n <= 0 means the default. Exceeding it is
// [batch.ErrHeaderTooLarge].
func MaxHeaderBytes(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxHeader = orDefault(n, DefaultMaxHeaderBytes) }
}

// MaxBodyBytes limits one item's body as written in the document (the JSON
// value, quotes and escapes included). Affects decoding. Default
// [DefaultMaxBodyBytes] (8 MiB); n <= 0 means the default. Exceeding it is
// [ErrBodyTooLarge].
func MaxBodyBytes(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxBody = orDefault(n, DefaultMaxBodyBytes) }
}

// MaxItemBytes limits one item object as written, and any other member
// value of the document (such as "@odata.context"). An item is held in
// memory whole until it is complete (see doc.go, "Memory"), so this bounds
// the decoder's memory: about twice MaxItemBytes at most, the held item and
// its decoded strings and body. Affects decoding. Default
// [DefaultMaxItemBytes] (9 MiB: the default body limit and 1 MiB for the
// rest); n <= 0 means the default. Exceeding it is [ErrItemTooLarge].
func MaxItemBytes(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxItem = orDefault(n, DefaultMaxItemBytes) }
}

// Dialect selects the conventions the [Encoder] follows where OData and
// Microsoft Graph differ (WIRE.md, "JSON batch"). The decoder reads both.
type Dialect uint8

const (
	// OData is the default: OData JSON Format 4.01 §19. Header names are
	// written lower-case, as the specification requires, and binary bodies
	// in base64url.
	OData Dialect = iota
	// Graph is Microsoft Graph JSON batching: header names are written as
	// given (the Graph JS client reads a JSON body back only under the
	// exact name "Content-Type"), and binary bodies in standard base64.
	Graph
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case OData:
		return "odata"
	case Graph:
		return "graph"
	}
	return "dialect(?)"
}

// EncodeOption configures an [Encoder].
type EncodeOption func(*encodeOptions)

type encodeOptions struct {
	dialect Dialect
	b64     *base64.Encoding
}

// WithDialect selects the conventions the encoder follows. Affects
// encoding. Default [OData].
func WithDialect(d Dialect) EncodeOption {
	return func(o *encodeOptions) { o.dialect = d }
}

// WithBase64 sets the encoding of binary bodies, overriding the dialect's:
// base64.URLEncoding (OData's default), base64.StdEncoding (Graph's), or
// their Raw forms without padding. The decoder accepts all four. Affects
// encoding; nil means the dialect's choice.
func WithBase64(enc *base64.Encoding) EncodeOption {
	return func(o *encodeOptions) { o.b64 = enc }
}
