package batch

// encodeOptions holds the encoder's settings (placeholder until the encoder lands).
type encodeOptions struct{}

func defaultEncodeOptions() encodeOptions { return encodeOptions{} }
