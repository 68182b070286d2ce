package batchhttp

import (
	"errors"
	"net/http"

	"github.com/batchcodec/batch"
)

// This package has its own option types, one per side, so that an option
// that means nothing where it is passed does not compile: a [HandlerOption]
// configures [Handler], a [ClientOption] configures [RequestBatch.NewRequest]
// and [RequestBatch.ReadResponse], and an [Option] configures both. The
// codec's own options reach the codec through [Decoding] and [Encoding].
//
// Every limit follows the codec's rule: a value of zero or less means the
// default.

// HandlerOption configures [Handler].
type HandlerOption interface{ applyHandler(*handlerConfig) }

// ClientOption configures the client: [RequestBatch.NewRequest] for the
// request, and [RequestBatch.ReadResponse], [RequestBatch.Responses] and
// [RequestBatch.NewResponseReader] for the answer. Each option's doc says
// which side it configures; passed to the other side it is an error (the
// call returns it and does nothing), never silently ignored.
type ClientOption interface{ applyClient(*clientConfig) }

// Option configures both the client and the handler.
type Option interface {
	HandlerOption
	ClientOption
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyClient(c *clientConfig) { f(c) }

// codecOptions passes the codec's options on, to either side.
type codecOptions struct {
	dec []batch.DecodeOption
	enc []batch.EncodeOption
}

func (o codecOptions) applyHandler(c *handlerConfig) {
	c.dec = append(c.dec, o.dec...)
	c.enc = append(c.enc, o.enc...)
}

func (o codecOptions) applyClient(c *clientConfig) {
	if len(o.dec) > 0 {
		c.use(sideResponse, "Decoding")
	}
	if len(o.enc) > 0 {
		c.use(sideRequest, "Encoding")
	}
	c.dec = append(c.dec, o.dec...)
	c.enc = append(c.enc, o.enc...)
}

// Decoding passes decoder options ([batch.Strict], [batch.MaxParts],
// [batch.MaxHeaderBytes], …) to the decoder that reads a batch: the
// request's in [Handler], the answer's in [RequestBatch.ReadResponse].
// Default none: the codec's defaults.
func Decoding(opts ...batch.DecodeOption) Option {
	return codecOptions{dec: append([]batch.DecodeOption(nil), opts...)}
}

// Encoding passes encoder options ([batch.WithDialect],
// [batch.WithBoundary], …) to the encoder that writes a batch: the answer's
// in [Handler], the request's in [RequestBatch.NewRequest]. Default none:
// the codec's defaults, except that Handler's answer boundary is
// "batchresponse_" and 32 random hex digits.
func Encoding(opts ...batch.EncodeOption) Option {
	return codecOptions{enc: append([]batch.EncodeOption(nil), opts...)}
}

// handlerConfig holds the settings of [Handler] with the defaults filled in.
type handlerConfig struct {
	maxOps      int   // operations per batch
	maxBytes    int64 // request body, and answers held per changeset
	spoolMemory int64 // request bytes held in memory before a temporary file
	hook        ChangesetHook
	hosts       []string // more host names operations may target
	v2          bool     // answer every batch 202 Accepted, as OData V2
	concurrency int      // JSON batch requests run at once
	dec         []batch.DecodeOption
	enc         []batch.EncodeOption
}

// Defaults of the handler's limits. See [Handler].
const (
	// DefaultMaxOperations is the default of [MaxOperations].
	DefaultMaxOperations = 1000
	// DefaultMaxBatchBytes is the default of [MaxBatchBytes]: 32 MiB.
	DefaultMaxBatchBytes = 32 << 20
	// DefaultSpoolMemory is the default of [SpoolMemory]: 1 MiB.
	DefaultSpoolMemory = 1 << 20
)

func newHandlerConfig(opts []HandlerOption) handlerConfig {
	c := handlerConfig{maxOps: DefaultMaxOperations, maxBytes: DefaultMaxBatchBytes, spoolMemory: DefaultSpoolMemory, concurrency: 1}
	for _, o := range opts {
		if o != nil {
			o.applyHandler(&c)
		}
	}
	return c
}

// MaxOperations limits the operations of one batch, those inside
// changesets included. A larger batch is refused before anything runs, with
// 413 Content Too Large, or 429 Too Many Requests for a UCWA
// (multipart/batching) batch, as UCWA answers it: its clients split the
// batch and retry. Default [DefaultMaxOperations]; n <= 0 means the default.
// The decoder's [batch.MaxParts] (see [Decoding]) applies too, and exceeding
// it gets the same answer.
func MaxOperations(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n <= 0 {
			n = DefaultMaxOperations
		}
		c.maxOps = n
	})
}

// MaxBatchBytes limits the request body of a batch (a larger one is answered
// 413 before anything runs) and, separately, the answers that one changeset
// holds until it commits. Default [DefaultMaxBatchBytes]; n <= 0 means the
// default.
func MaxBatchBytes(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n <= 0 {
			n = DefaultMaxBatchBytes
		}
		c.maxBytes = n
	})
}

// SpoolMemory sets how many bytes of a request body [Handler] holds in
// memory; the rest of a larger body goes to a temporary file (os.CreateTemp
// in os.TempDir), removed when the batch has been answered. Default
// [DefaultSpoolMemory]; n <= 0 means the default.
func SpoolMemory(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n <= 0 {
			n = DefaultSpoolMemory
		}
		c.spoolMemory = n
	})
}

// AllowHosts names more hosts ("host" or "host:port") that an operation's
// absolute URL may target besides the one the batch was sent to, such as the
// public name of a service behind a proxy. Default none. Each use adds to
// the list.
func AllowHosts(hosts ...string) HandlerOption {
	hosts = append([]string(nil), hosts...)
	return handlerOptionFunc(func(c *handlerConfig) { c.hosts = append(c.hosts, hosts...) })
}

// Changesets sets the hook that makes each changeset atomic (see
// [ChangesetHook]). Default none: the operations of a changeset run one by
// one and keep their effects whatever happens to the others.
func Changesets(h ChangesetHook) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.hook = h })
}

// Concurrency sets how many requests of a JSON batch [Handler] runs at
// once: requests (and atomicity groups) whose dependsOn are all done run
// concurrently, each on its own goroutine, up to n at a time, and never
// before what they depend on; their answers are written as they complete.
// next must then be safe for concurrent use, as any http.Handler behind
// net/http is, and so must the [ChangesetHook]: independent atomicity
// groups run at the same time, each in its own Begin … Commit or Rollback. Default 1: one request at a time, in document order, which
// a handler written for multipart batches expects. n <= 0 means the
// default. Multipart batches always run in order, one operation at a time,
// as OData specifies.
func Concurrency(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n <= 0 {
			n = 1
		}
		c.concurrency = n
	})
}

// The two sides of the client: a [ClientOption] applies to one of them, and
// passed to the other it is an error rather than silently ignored.
const (
	sideRequest  = 1 + iota // RequestBatch.NewRequest
	sideResponse            // RequestBatch.ReadResponse, Responses, NewResponseReader
)

// clientConfig holds the settings of the client side.
type clientConfig struct {
	side      int    // the side being configured
	misplaced string // the first option given that does not apply to side

	continueOnError bool
	odataVersion    string
	header          http.Header
	targets         TargetForm
	buffer          bool
	maxBuffer       int64
	format          BatchFormat // see client_format.go
	dec             []batch.DecodeOption
	enc             []batch.EncodeOption
}

// DefaultMaxBufferBytes is the default of [MaxBufferBytes]: 64 MiB.
const DefaultMaxBufferBytes = 64 << 20

// newClientConfig applies opts for side. An option that applies only to the
// other side is an error naming it.
func newClientConfig(opts []ClientOption, side int) (clientConfig, error) {
	c := clientConfig{side: side, maxBuffer: DefaultMaxBufferBytes}
	for _, o := range opts {
		if o != nil {
			o.applyClient(&c)
		}
	}
	if c.misplaced != "" {
		where, other := "RequestBatch.NewRequest", "reading answers (ReadResponse, Responses, NewResponseReader)"
		if side == sideResponse {
			where, other = "reading answers", "RequestBatch.NewRequest"
		}
		return c, errors.New("batchhttp: option " + c.misplaced + " was passed to " + where + ", but it applies only to " + other)
	}
	return c, nil
}

// use records that the option name, which applies to side, was given.
func (o *clientConfig) use(side int, name string) {
	if side != o.side && o.misplaced == "" {
		o.misplaced = name
	}
}

// ContinueOnError asks the server to run every operation even after one
// fails, with "Prefer: odata.continue-on-error" on the outer request.
// Default false.
func ContinueOnError(on bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "ContinueOnError")
		c.continueOnError = on
	})
}

// ODataVersion sets the OData-Version header of the outer request, such as
// "4.0". Default none.
func ODataVersion(v string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "ODataVersion")
		c.odataVersion = v
	})
}

// OuterHeader adds a header to the outer request, such as Authorization.
// Operations inherit nothing from it on the wire; servers do. A name given
// here replaces the value [RequestBatch.NewRequest] would set itself (such
// as Accept). Default none; each use adds a value.
func OuterHeader(name, value string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "OuterHeader")
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header.Add(name, value)
	})
}

// TargetForm says how [RequestBatch.NewRequest] writes the target of each
// request line (quirk 7 of the README's table). A relative reference that does not start
// with "/" ("messages?$top=2", "$1/Orders") is always written as it stands;
// the forms differ for absolute URLs and host-relative paths ("/odata/…"),
// which are first resolved against the batch URL.
type TargetForm uint8

const (
	// TargetServiceRelative writes a target under the batch URL's service
	// root (the batch URL without its last segment, "$batch") relative to
	// it, and any other target as an absolute URL: "Books(1)" for
	// https://host/odata/v4/catalog/Books(1) sent to
	// https://host/odata/v4/catalog/$batch. It is the one form every OData
	// server resolves (SAP CAP resolves no other) and the default, except
	// in the [batch.UCWA] dialect.
	TargetServiceRelative TargetForm = iota + 1
	// TargetHostRelative writes every absolute or host-relative target as
	// its path and query with a Host header ("/api/v2.0/me/events"): the
	// form the Outlook REST and UCWA documents use, and the default in the
	// [batch.UCWA] dialect. Use it for Outlook REST.
	TargetHostRelative
	// TargetAbsolute writes every absolute or host-relative target as an
	// absolute URL ("https://host/_api/web/lists"), as SharePoint's
	// documents do.
	TargetAbsolute
)

// Targets sets the form of request targets (see [TargetForm]). Default
// [TargetServiceRelative], or [TargetHostRelative] in the [batch.UCWA]
// dialect.
func Targets(f TargetForm) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "Targets")
		c.targets = f
	})
}

// BufferRequest makes [RequestBatch.NewRequest] encode the whole batch into
// memory before sending it, reading every request body, so that it goes out
// with a Content-Length even when a body's length cannot be known in
// advance: for servers that refuse a chunked request body whatever its size
// (SAP's OData V2 adapter answers 400). The cost is the batch's size in
// memory. Default false: a Content-Length is sent whenever the length can be
// computed without buffering, and the body is streamed chunked otherwise.
func BufferRequest(on bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "BufferRequest")
		c.buffer = on
	})
}

// MaxBufferBytes limits the answer bytes the client holds in memory:
// the bodies [RequestBatch.ReadResponse] returns, all of them together, and
// the answers a [ResponseReader] must hold before it can tell which
// requests they answer (see [ResponseReader]). Past it, reading fails with
// [ErrBufferLimit]. Default [DefaultMaxBufferBytes] (64 MiB); n <= 0 means
// the default. Stream larger answers with [RequestBatch.NewResponseReader].
func MaxBufferBytes(n int64) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideResponse, "MaxBufferBytes")
		if n <= 0 {
			n = DefaultMaxBufferBytes
		}
		c.maxBuffer = n
	})
}

// ODataV2 makes [Handler] answer every multipart/mixed batch as an OData V2
// service does, with 202 Accepted, as SAP Gateway and SAP CAP's V2 adapter
// answer and as pyodata, which sends no version header, requires. Without
// it, a batch is answered 202 when its request says V2
// (DataServiceVersion or MaxDataServiceVersion 1.0 to 2.0, without
// OData-Version), and 200 OK otherwise, as OData V4 and UCWA answer.
// Default false. UCWA (multipart/batching) batches are answered 200
// whatever it says.
func ODataV2(on bool) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.v2 = on })
}
