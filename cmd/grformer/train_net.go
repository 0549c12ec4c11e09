package main

// The one call site of package train: the lead's network with gradients.

import (
	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/train"
	"github.com/grformer/grformer/trainer"
)

// newTrainNet builds the trainable network; a variable so that tests can
// substitute a small fake.
var newTrainNet = func(cfg model.Config, sd checkpoint.StateDict, threads int) (trainer.Trainable, error) {
	n, err := train.NewNet(cfg, sd)
	if err != nil {
		return nil, err
	}
	n.Threads = threads
	return n, nil
}
