package batchhttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/batchcodec/batch"
)

// This file holds the options of [Transport]: a type of their own, so that
// a handler's or a RequestBatch's option does not compile where a
// Transport's is wanted.

// TransportOption configures [NewTransport].
type TransportOption interface{ applyTransport(*transportConfig) }

type transportOptionFunc func(*transportConfig)

func (f transportOptionFunc) applyTransport(c *transportConfig) { f(c) }

// TransportDialect is the batch protocol a [Transport] speaks: how it writes
// the outer request and its operations, and which requests it may batch.
type TransportDialect uint8

const (
	// DialectGoogle is Google's JSON APIs' batch endpoint,
	// POST /batch/<api>/<version>: multipart/mixed, each operation with
	// "Content-ID: <item-N>" and a path-absolute target
	// ("GET /tasks/v1/users/@me/lists HTTP/1.1"); answers carry
	// "<response-item-N>" (or the request's own ID, as [Handler] echoes it)
	// in any order. Only requests whose path starts with /<api>/<version>/
	// are batched, and not media uploads ("/upload/...") or downloads
	// ("alt=media"). Default batch size 100.
	DialectGoogle TransportDialect = iota + 1
	// DialectOData is an OData $batch endpoint: multipart/mixed, Content-IDs
	// 1 to N, targets written relative to the service root (the batch URL
	// without its last segment: "Books(1)" for .../catalog/$batch), and
	// "Prefer: odata.continue-on-error" on the outer request so that one
	// caller's failure does not stop the others. Only requests under the
	// service root are batched. Default batch size 20, the strictest
	// service limit in use (Outlook and Graph allow 20 operations).
	DialectOData
	// DialectGraph is Microsoft Graph's JSON batching: the requests POSTed
	// to .../v1.0/$batch as {"requests":[{"id","method","url","headers",
	// "body"}]}, each url relative to the service root with a leading "/"
	// ("/me/messages/1"), a JSON body as JSON, a text/* body as a string,
	// any other body base64 (a body without Content-Type is not batched);
	// answers {"responses":[{"id","status","headers","body"}]} in any
	// order, decoded one at a time. Only requests under the service root
	// are batched. Default batch size 20, Graph's limit.
	DialectGraph
)

// String returns the dialect's name.
func (d TransportDialect) String() string {
	switch d {
	case DialectGoogle:
		return "Google"
	case DialectOData:
		return "OData"
	case DialectGraph:
		return "Graph"
	}
	return "TransportDialect(" + strconv.Itoa(int(d)) + ")"
}

// Defaults of the transport's options. See [NewTransport].
const (
	// DefaultWindow is the default of [Window]: how long the oldest queued
	// request waits for others before its batch is sent.
	DefaultWindow = 5 * time.Millisecond
	// DefaultGoogleMaxBatch is [MaxBatch]'s default for [DialectGoogle]:
	// Google's general limit is 1000 calls per batch, but several APIs
	// (Drive, Gmail) accept 100 at most; 100 works everywhere.
	DefaultGoogleMaxBatch = 100
	// DefaultODataMaxBatch is [MaxBatch]'s default for [DialectOData] and
	// [DialectGraph].
	DefaultODataMaxBatch = 20
	// DefaultMaxRequestBody is the default of [MaxRequestBody]: 256 KiB.
	DefaultMaxRequestBody = 256 << 10
	// DefaultAnswerBuffer is the default of [AnswerBuffer]: 64 KiB.
	DefaultAnswerBuffer = 64 << 10
	// DefaultStallTimeout is the default of [StallTimeout].
	DefaultStallTimeout = 30 * time.Second
	// transportMaxQueued: a queue holding this many bytes of request
	// bodies is sent at once, whatever its count.
	transportMaxQueued = 8 << 20
	// transportMaxHeld bounds the answers without Content-ID held until a
	// batch answer ends, to be matched by position.
	transportMaxHeld = 8 << 20
)

// transportConfig holds the settings of a Transport with defaults filled in.
type transportConfig struct {
	dialect    TransportDialect
	base       http.RoundTripper
	window     time.Duration
	maxBatch   int
	maxBody    int64
	answerBuf  int64
	stall      time.Duration
	onBatch    func(BatchStats)
	header     http.Header
	dec        []batch.DecodeOption
	enc        []batch.EncodeOption
	batchable  func(*http.Request) bool
	dialectSet bool
}

func newTransportConfig(u *url.URL, opts []TransportOption) transportConfig {
	c := transportConfig{window: DefaultWindow, maxBody: DefaultMaxRequestBody, answerBuf: DefaultAnswerBuffer, stall: DefaultStallTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyTransport(&c)
		}
	}
	if !c.dialectSet {
		switch {
		case strings.HasPrefix(u.Path, "/batch/"):
			c.dialect = DialectGoogle
		case strings.EqualFold(u.Hostname(), "graph.microsoft.com"):
			c.dialect = DialectGraph
		default:
			c.dialect = DialectOData
		}
	}
	if c.base == nil {
		c.base = http.DefaultTransport
	}
	if c.maxBatch <= 0 {
		c.maxBatch = DefaultODataMaxBatch
		if c.dialect == DialectGoogle {
			c.maxBatch = DefaultGoogleMaxBatch
		}
	}
	return c
}

// UseDialect sets the batch protocol. Default: [DialectGoogle] when the
// batch URL's path starts with /batch/, [DialectGraph] when its host is
// graph.microsoft.com, else [DialectOData].
func UseDialect(d TransportDialect) TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.dialect, c.dialectSet = d, true })
}

// Base sets the round tripper that sends the batches and the requests that
// are not batched. Default http.DefaultTransport.
func Base(rt http.RoundTripper) TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.base = rt })
}

// Window sets how long the oldest queued request waits for others: a batch
// is sent when it holds [MaxBatch] requests or when its first request has
// waited d, whichever comes first. Default [DefaultWindow]; d <= 0 means
// the default.
func Window(d time.Duration) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if d <= 0 {
			d = DefaultWindow
		}
		c.window = d
	})
}

// MaxBatch sets the most requests in one batch. Default per dialect
// ([DefaultGoogleMaxBatch], [DefaultODataMaxBatch]); n <= 0 means the
// default.
func MaxBatch(n int) TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.maxBatch = n })
}

// MaxRequestBody sets the largest request body that is batched; a request
// with a larger body (or one whose unknown length turns out larger) is
// sent alone through [Base]. Batched bodies are held in memory until their
// batch is sent. Default [DefaultMaxRequestBody]; n <= 0 means the default.
func MaxRequestBody(n int64) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if n <= 0 {
			n = DefaultMaxRequestBody
		}
		c.maxBody = n
	})
}

// AnswerBuffer sets how many bytes of one answer's body are read into
// memory before the answer is handed to its caller. An answer that fits is
// handed over whole and costs the batch nothing more; a larger one streams
// from the batch answer (see [Transport], "Answers"). Default
// [DefaultAnswerBuffer]; n <= 0 means the default. With [DialectGraph] each
// JSON response is decoded whole, whatever its size: a JSON answer's
// bodies cannot be streamed one by one.
func AnswerBuffer(n int64) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if n <= 0 {
			n = DefaultAnswerBuffer
		}
		c.answerBuf = n
	})
}

// StallTimeout sets how long a caller may leave a streaming answer body
// unread while the later answers of its batch wait (see [Transport],
// "Answers"). Default [DefaultStallTimeout]; d <= 0 means the default.
func StallTimeout(d time.Duration) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if d <= 0 {
			d = DefaultStallTimeout
		}
		c.stall = d
	})
}

// OnBatch sets a function called once per batch, after its answer has been
// read, with what it cost; use it to tune [Window] and [MaxBatch]. It runs
// on the batch's goroutine and must not block or call [Transport.Close].
// Default none; see also [Transport.Stats].
func OnBatch(f func(BatchStats)) TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.onBatch = f })
}

// TransportHeader adds a header to every outer batch request, such as
// OData-Version or an API key the batch endpoint wants. Default none; each
// use adds a value.
func TransportHeader(name, value string) TransportOption {
	return transportOptionFunc(func(c *transportConfig) {
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header.Add(name, value)
	})
}

// TransportCodec passes codec options to the encoder that writes each
// batch and the decoder that reads its answer, such as [batch.MaxParts] or
// [batch.WithBoundary] (a fixed boundary is refused by the encoder for any
// body that holds it). Default none. It configures the multipart codec:
// with [DialectGraph], whose batches are JSON, [NewTransport] refuses it.
func TransportCodec(enc []batch.EncodeOption, dec []batch.DecodeOption) TransportOption {
	enc = append([]batch.EncodeOption(nil), enc...)
	dec = append([]batch.DecodeOption(nil), dec...)
	return transportOptionFunc(func(c *transportConfig) {
		c.enc = append(c.enc, enc...)
		c.dec = append(c.dec, dec...)
	})
}

// Batchable sets a filter: a request for which f returns false is sent
// alone through [Base], whatever the dialect would allow. Default none.
func Batchable(f func(*http.Request) bool) TransportOption {
	return transportOptionFunc(func(c *transportConfig) { c.batchable = f })
}
