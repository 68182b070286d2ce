//go:build !race

package batchhttp

const raceEnabled = false
