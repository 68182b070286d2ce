//go:build race

package batchhttp

const raceEnabled = true
