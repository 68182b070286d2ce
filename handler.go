package batch

// serverOptions holds the batch handler's settings (placeholder until the handler lands).
type serverOptions struct{}
