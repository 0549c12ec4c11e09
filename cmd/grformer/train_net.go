package main

// The one call site of package backprop: the lead's network with gradients.

import (
	"github.com/grformer/grformer/backprop"
	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/training"
)

// newTrainNet builds the trainable network; a variable so that tests can
// substitute a small fake.
var newTrainNet = func(cfg model.Config, sd checkpoint.StateDict, threads int) (training.Trainable, error) {
	n, err := backprop.NewNet(cfg, sd)
	if err != nil {
		return nil, err
	}
	n.Threads = threads
	return n, nil
}
