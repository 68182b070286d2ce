// Package batchhttp is the net/http layer of the batch codec
// (github.com/batchcodec/batch): it turns decoded parts into *http.Request
// and *http.Response values and back, sends many requests as one batch, and
// answers batches by running each operation through an http.Handler.
//
//   - [Request], [Response] and [Header] convert a decoded [batch.Part];
//     [WriteRequest] and [WriteResponse] write net/http values with a
//     [batch.Encoder]. Bodies stay streams.
//   - [ResolveTarget] and [ResolveContentID] resolve an embedded request's
//     target, in any of its three forms, and its "$n" references.
//   - [RequestBatch] is the client: requests and changesets in, one outer
//     request out, and the outer response matched back to one
//     *http.Response per request ([RequestBatch.ReadResponse]). It writes
//     multipart batches, or JSON batches of OData 4.01 and Microsoft Graph
//     ([Format]) with dependencies between requests
//     ([RequestBatch.DependsOn]), and reads answers in either format.
//   - [Handler] is the server: a middleware that answers batch requests,
//     multipart or JSON, by running each operation through next, streaming
//     the answers; a JSON batch's independent requests run concurrently
//     ([Concurrency]), each after what it depends on.
//   - [Transport] batches the concurrent calls of any http.Client: an
//     http.RoundTripper that gathers requests for a few milliseconds and
//     sends them as one batch (Google, OData or Microsoft Graph JSON), each
//     caller getting its own *http.Response.
//
// # Options
//
// The client takes [ClientOption] values and the server [HandlerOption]
// values; [Option] values ([Decoding], [Encoding]) go to either. An option
// passed where it means nothing does not compile. The codec's own options
// reach it only through [Decoding] and [Encoding], so that which decoder or
// encoder they configure is explicit.
//
// The codec imports no net/http; this package is where net/http enters, as
// net/http/httputil sits beside net/http.
package batchhttp
