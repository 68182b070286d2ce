package batchhttp

import (
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

// ClientOption configures the client: [RequestBatch.NewRequest] and
// [RequestBatch.ReadResponse].
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
	c := handlerConfig{maxOps: DefaultMaxOperations, maxBytes: DefaultMaxBatchBytes, spoolMemory: DefaultSpoolMemory}
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

// clientConfig holds the settings of the client side.
type clientConfig struct {
	continueOnError bool
	odataVersion    string
	header          http.Header
	absoluteTargets bool
	dec             []batch.DecodeOption
	enc             []batch.EncodeOption
}

func newClientConfig(opts []ClientOption) clientConfig {
	var c clientConfig
	for _, o := range opts {
		if o != nil {
			o.applyClient(&c)
		}
	}
	return c
}

// ContinueOnError asks the server to run every operation even after one
// fails, with "Prefer: odata.continue-on-error" on the outer request.
// Default false.
func ContinueOnError(on bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.continueOnError = on })
}

// ODataVersion sets the OData-Version header of the outer request, such as
// "4.0". Default none.
func ODataVersion(v string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.odataVersion = v })
}

// OuterHeader adds a header to the outer request, such as Authorization.
// Operations inherit nothing from it on the wire; servers do. Default none;
// each use adds a value.
func OuterHeader(name, value string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header.Add(name, value)
	})
}

// AbsoluteTargets makes [RequestBatch.NewRequest] write absolute request
// URLs as they are ("GET https://host/api/v2.0/me HTTP/1.1") instead of
// host-relative with a Host header. Default false.
func AbsoluteTargets(on bool) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.absoluteTargets = on })
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
