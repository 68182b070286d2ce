package batchhttp

import "strconv"

// This file selects the wire format of the client's outer request:
// multipart, as every batch server reads, or the JSON batch of OData 4.01
// and Microsoft Graph (package jsonbatch). Reading needs no option: the
// answer says what it is by its Content-Type.

// BatchFormat is the wire format [RequestBatch.NewRequest] writes (see
// [Format]).
type BatchFormat uint8

const (
	// FormatMultipart is a multipart/mixed batch (or multipart/batching in
	// the [batch.UCWA] dialect), written by the codec: the default.
	FormatMultipart BatchFormat = iota
	// FormatJSON is an OData 4.01 JSON batch (OData JSON Format 4.01 §19):
	// each request an object with its id (the Content-ID the multipart
	// batch would give it), method, url relative to the service root as
	// [TargetServiceRelative] writes it (or absolute with
	// [TargetAbsolute]), dependsOn ([RequestBatch.DependsOn]), lower-case
	// header names, and its body as a JSON value, text or base64url; each
	// changeset an atomicityGroup. Unlike a multipart batch, a JSON batch
	// runs on after a failure unless the server is told otherwise: the
	// requests that depend on a failed one are answered 424 Failed
	// Dependency, the others run.
	FormatJSON
	// FormatGraph is a Microsoft Graph JSON batch: as [FormatJSON], but
	// every url relative to the version root with a leading "/" ("/me/events"
	// for the batch URL https://graph.microsoft.com/v1.0/$batch), header
	// names as given, binary bodies in standard base64, no changesets, and
	// at most [GraphMaxRequests] requests (cut a longer batch with
	// [RequestBatch.Split]).
	FormatGraph
)

// GraphMaxRequests is the number of requests Microsoft Graph accepts in one
// JSON batch; [FormatGraph] refuses more.
const GraphMaxRequests = 20

// String returns the format's name.
func (f BatchFormat) String() string {
	switch f {
	case FormatMultipart:
		return "multipart"
	case FormatJSON:
		return "JSON"
	case FormatGraph:
		return "Graph"
	}
	return "BatchFormat(" + strconv.Itoa(int(f)) + ")"
}

// json reports whether f is one of the JSON formats.
func (f BatchFormat) json() bool { return f == FormatJSON || f == FormatGraph }

// Format selects the wire format of the batch [RequestBatch.NewRequest]
// writes. Affects the request side only: answers are read in whichever
// format the server chose, told by their Content-Type (a server may answer
// a JSON batch in multipart, or the other way round). Default
// [FormatMultipart].
//
// A JSON batch has no use for the multipart encoder: [Encoding] is refused
// with it, and so is [Targets] with [FormatGraph] (its url form is fixed)
// or with [TargetHostRelative] (a url with a leading "/" is read against
// the host by the specification but against the service root by Graph and
// SAP CAP).
func Format(f BatchFormat) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.use(sideRequest, "Format")
		c.format = f
	})
}
