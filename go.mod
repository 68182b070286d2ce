module github.com/batchcodec/batch

go 1.24
