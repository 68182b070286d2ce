package batch

// Option configures a [Decoder] or an [Encoder]: one mechanism for both.
// Options are values: build them once and pass them to [NewDecoder],
// [NewDecoderBoundary], [Decoder.Reset] or [NewEncoder]; later options
// override earlier ones. Each option's doc says whether it affects decoding,
// encoding or both; the other side ignores it. Reset can change every
// decoding option.
type Option func(*options)

// options holds the settings of both sides.
type options struct {
	decodeOptions
	enc    encodeOptions
	client clientOptions
	server serverOptions
}

// decodeOptions holds the decoder's settings. Every limit is finite.
type decodeOptions struct {
	strict        bool
	bufferSize    int
	maxLine       int
	maxPartHeader int
	maxHeader     int
	maxParts      int
	maxDepth      int
}

// Defaults of the limits. See doc.go, "Limits".
const (
	DefaultBufferSize     = 64 << 10
	DefaultMaxLineLength  = 16 << 10
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxParts       = 10000
	DefaultMaxDepth       = 4

	minBufferSize = 4 << 10
	// fieldOverhead is charged against a header limit for every field on
	// top of its bytes: the memory a RawField and its bookkeeping cost, so
	// that a block of empty lines is not free (as textproto charges 200).
	fieldOverhead = 64
)

func defaultOptions() decodeOptions {
	return decodeOptions{
		bufferSize:    DefaultBufferSize,
		maxLine:       DefaultMaxLineLength,
		maxPartHeader: DefaultMaxHeaderBytes,
		maxHeader:     DefaultMaxHeaderBytes,
		maxParts:      DefaultMaxParts,
		maxDepth:      DefaultMaxDepth,
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
	if o.maxParts < 1 {
		o.maxParts = 1
	}
	if o.maxDepth < 0 {
		o.maxDepth = 0
	}
	if o.maxPartHeader < 0 {
		o.maxPartHeader = 0
	}
	if o.maxHeader < 0 {
		o.maxHeader = 0
	}
}

// Strict (decoding) makes every tolerated deviation (see [Deviation]) an error matching
// [ErrNonconforming], for validators and for tests of batch writers. The
// default is false: read tolerantly.
func Strict(on bool) Option {
	return func(o *options) { o.strict = on }
}

// BufferSize (decoding) sets the size of the decoder's one read buffer, which bounds
// its memory apart from the header limits. Default [DefaultBufferSize]; it
// is raised to hold at least one line of [MaxLineLength].
func BufferSize(n int) Option {
	return func(o *options) { o.bufferSize = n }
}

// MaxLineLength (decoding) limits one delimiter line (with its transport
// padding), MIME header line, start line or embedded header line. Body lines
// are not limited, with one exception: a body line that starts with an open
// dash-boundary followed by more padding than the limit is refused too, as
// telling it from a delimiter would take unbounded memory. Default
// [DefaultMaxLineLength]; values below 408 are raised to 408, so that a
// delimiter of the longest boundary the decoder reads fits. Exceeding it is
// [ErrLineTooLong].
func MaxLineLength(n int) Option {
	return func(o *options) { o.maxLine = n }
}

// MaxHeaderBytes (decoding) limits the bytes of one part's MIME headers and,
// separately, of one operation's start line and embedded headers, each field
// also charged a fixed overhead for its bookkeeping. Default
// [DefaultMaxHeaderBytes] (64 KiB, as SAP CAP). Exceeding it is
// [ErrHeaderTooLarge].
func MaxHeaderBytes(n int) Option {
	return func(o *options) { o.maxPartHeader, o.maxHeader = n, n }
}

// MaxParts (decoding) limits the number of MIME parts in one batch, operations and
// changesets alike at every depth. Default [DefaultMaxParts]. Exceeding it
// is [ErrTooManyParts].
func MaxParts(n int) Option {
	return func(o *options) { o.maxParts = n }
}

// MaxDepth (decoding) limits how deep changesets nest: 1 allows OData's changesets and
// nothing inside them, 0 allows no changeset at all. Default
// [DefaultMaxDepth]. Exceeding it is [ErrTooDeep].
func MaxDepth(n int) Option {
	return func(o *options) { o.maxDepth = n }
}

// buildOptions sets *o to the defaults of both sides with opts applied. It
// fills a struct the caller owns (a Decoder's or Encoder's field), so that
// handing it to the option funcs allocates nothing.
func buildOptions(o *options, opts []Option) {
	*o = options{decodeOptions: defaultOptions(), enc: defaultEncodeOptions()}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	o.normalize()
}
