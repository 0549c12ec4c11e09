package training

import (
	"fmt"
	"math"
)

// EMA keeps an exponential moving average of the weights, as BasicSR's
// model_ema: after every optimiser step, shadow = shadow*decay +
// param*(1-decay), in float32. The shadow starts as a copy of the weights.
type EMA struct {
	Decay  float64
	Shadow [][]float32 // one slice per parameter, in the order of params
}

// NewEMA copies the current weights of params into a new average.
func NewEMA(params []*Param, decay float64) (*EMA, error) {
	if !(decay >= 0 && decay < 1) || math.IsNaN(decay) {
		return nil, fmt.Errorf("training: EMA decay %g not in [0, 1)", decay)
	}
	e := &EMA{Decay: decay, Shadow: make([][]float32, len(params))}
	for i, p := range params {
		e.Shadow[i] = append([]float32(nil), p.Data...)
	}
	return e, nil
}

// Update folds the current weights into the average.
func (e *EMA) Update(params []*Param) {
	d, c := float32(e.Decay), float32(1-e.Decay)
	for i, p := range params {
		s := e.Shadow[i][:len(p.Data)]
		for j, v := range p.Data {
			s[j] = float32(s[j]*d) + float32(v*c)
		}
	}
}
