package main

import (
	"bytes"
	"fmt"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/weights"
)

// shippedWeights is the -weights value that names the weights shipping
// with grformer (package weights); an empty -weights means the same where
// a command has a default.
const shippedWeights = "shipped"

// isShipped reports whether a -weights value asks for the shipped weights.
func isShipped(w string) bool { return w == "" || w == shippedWeights }

// shippedStateDict decodes the shipped weights of scale.
func shippedStateDict(scale int) (checkpoint.StateDict, *checkpoint.LoadInfo, weights.Info, error) {
	b, w, err := weights.For(scale)
	if err != nil {
		return nil, nil, w, err
	}
	sd, li, err := checkpoint.Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, w, fmt.Errorf("shipped %s: %w", w.Name, err)
	}
	return sd, li, w, nil
}
