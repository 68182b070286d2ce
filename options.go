package batch

// The codec has two option types, one per side, so that an option meant for
// the other side is a compile-time error rather than silently ignored:
// [DecodeOption] for [NewDecoder], [NewDecoderBoundary] and [Decoder.Reset],
// [EncodeOption] for [NewEncoder]. Options are values: build them once and
// pass them on every call; later options override earlier ones.
//
// Every limit follows one rule: a value of zero or less means the default.
// There is no "unlimited"; every limit is finite.

// DecodeOption configures a [Decoder]. [Decoder.Reset] starts again from the
// defaults and applies only the options passed to it, so every decoding
// option can be changed by Reset.
type DecodeOption func(*decodeOptions)

// decodeOptions holds the decoder's settings. Every limit is finite.
type decodeOptions struct {
	strict        bool
	bufferSize    int
	maxLine       int
	maxPartHeader int
	maxHeader     int
	maxParts      int
	maxDepth      int // changesets nested inside each other: MaxDepth's n - 1
}

// Defaults of the decoder's limits. See doc.go, "Limits".
const (
	DefaultBufferSize     = 64 << 10
	DefaultMaxLineLength  = 16 << 10
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxParts       = 10000
	DefaultMaxDepth       = 5

	minBufferSize = 4 << 10
	// fieldOverhead is charged against a header limit for every field on
	// top of its bytes: the memory a RawField and its bookkeeping cost, so
	// that a block of empty lines is not free (as textproto charges 200).
	fieldOverhead = 64
)

func defaultDecodeOptions() decodeOptions {
	return decodeOptions{
		bufferSize:    DefaultBufferSize,
		maxLine:       DefaultMaxLineLength,
		maxPartHeader: DefaultMaxHeaderBytes,
		maxHeader:     DefaultMaxHeaderBytes,
		maxParts:      DefaultMaxParts,
		maxDepth:      DefaultMaxDepth - 1,
	}
}

// normalize clamps the settings so that they are consistent: the buffer
// holds at least one full line and a delimiter with its context.
func (o *decodeOptions) normalize() {
	if o.maxLine < 2*maxReadBoundary+8 {
		o.maxLine = 2*maxReadBoundary + 8
	}
	if o.bufferSize < minBufferSize {
		o.bufferSize = minBufferSize
	}
	if o.bufferSize < o.maxLine+2*maxReadBoundary+16 {
		o.bufferSize = o.maxLine + 2*maxReadBoundary + 16
	}
}

// buildDecodeOptions sets *o to the defaults with opts applied. It fills a
// struct the caller owns (the Decoder's field), so that handing it to the
// option funcs allocates nothing.
func buildDecodeOptions(o *decodeOptions, opts []DecodeOption) {
	*o = defaultDecodeOptions()
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	o.normalize()
}

// orDefault returns n, or def when n is zero or less: the one meaning of a
// non-positive limit across the codec's options.
func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Strict makes every tolerated deviation (see [Deviation]) an error
// matching [ErrNonconforming], for validators and for tests of batch
// writers. Affects decoding. Default false: read tolerantly.
func Strict(on bool) DecodeOption {
	return func(o *decodeOptions) { o.strict = on }
}

// BufferSize sets the size of the decoder's one read buffer, which bounds
// its memory apart from the header limits. Affects decoding. Default
// [DefaultBufferSize] (64 KiB); n <= 0 means the default. It is raised to
// 4 KiB, and to hold at least one line of [MaxLineLength] with a delimiter.
func BufferSize(n int) DecodeOption {
	return func(o *decodeOptions) { o.bufferSize = orDefault(n, DefaultBufferSize) }
}

// MaxLineLength limits one delimiter line (with its transport padding),
// MIME header line, start line or embedded header line. Body lines are not
// limited, with one exception: a body line that starts with an open
// dash-boundary followed by more padding than the limit is refused too, as
// telling it from a delimiter would take unbounded memory. Affects decoding.
// Default [DefaultMaxLineLength] (16 KiB); n <= 0 means the default; values
// below 408 are raised to 408, so that a delimiter of the longest boundary
// the decoder reads fits. Exceeding it is [ErrLineTooLong].
func MaxLineLength(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxLine = orDefault(n, DefaultMaxLineLength) }
}

// MaxHeaderBytes limits the bytes of one part's MIME headers and,
// separately, of one operation's start line and embedded headers, each
// field also charged a fixed overhead for its bookkeeping. Affects decoding.
// Default [DefaultMaxHeaderBytes] (64 KiB, as SAP CAP); n <= 0 means the
// default. Exceeding it is [ErrHeaderTooLarge].
func MaxHeaderBytes(n int) DecodeOption {
	return func(o *decodeOptions) {
		n = orDefault(n, DefaultMaxHeaderBytes)
		o.maxPartHeader, o.maxHeader = n, n
	}
}

// MaxParts limits the number of MIME parts in one batch, operations and
// changesets alike at every depth. Affects decoding. Default
// [DefaultMaxParts] (10,000); n <= 0 means the default. Exceeding it is
// [ErrTooManyParts].
func MaxParts(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxParts = orDefault(n, DefaultMaxParts) }
}

// MaxDepth limits how deep multipart bodies nest, the batch itself counting
// as 1: MaxDepth(1) allows no changeset, MaxDepth(2) allows OData's
// changesets and nothing inside them. Affects decoding. Default
// [DefaultMaxDepth] (5); n <= 0 means the default. Exceeding it is
// [ErrTooDeep].
func MaxDepth(n int) DecodeOption {
	return func(o *decodeOptions) { o.maxDepth = orDefault(n, DefaultMaxDepth) - 1 }
}
