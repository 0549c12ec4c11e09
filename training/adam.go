package training

import (
	"errors"
	"fmt"
	"math"
)

// AdamConfig holds Adam's hyper-parameters other than the learning rate.
type AdamConfig struct {
	Beta1 float64 `yaml:"beta1" json:"beta1"`
	Beta2 float64 `yaml:"beta2" json:"beta2"`
	Eps   float64 `yaml:"eps" json:"eps"`
	// WeightDecay is PyTorch's L2 form (torch.optim.Adam's weight_decay:
	// grad += wd * param before the moments), not AdamW's.
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
}

// DefaultAdam is the paper's recipe: betas (0.9, 0.99), eps 1e-8, no
// weight decay.
func DefaultAdam() AdamConfig {
	return AdamConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8}
}

// Validate reports the first bad hyper-parameter, or nil.
func (c AdamConfig) Validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("training: adam beta1 %g not in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("training: adam beta2 %g not in [0, 1)", c.Beta2)
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("training: adam eps %g must be positive", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("training: weight decay %g must be >= 0", c.WeightDecay)
	}
	return nil
}

// Adam is torch.optim.Adam (amsgrad off, maximize off) over a fixed list of
// parameters, computed in float32 in PyTorch's order of operations:
//
//	g  = grad (+ wd * p)
//	m  = m*beta1 + (1-beta1)*g
//	v  = v*beta2 + (1-beta2)*g*g
//	bc1 = 1 - beta1^t, bc2 = 1 - beta2^t          (float64, as Python does)
//	p  = p - (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
//
// The moments start at zero and Step counts from 1.
type Adam struct {
	Cfg    AdamConfig
	Params []*Param
	// M and V are the first and second moments, one slice per parameter
	// (PyTorch's exp_avg and exp_avg_sq).
	M, V [][]float32
	// Steps is the number of steps taken (PyTorch's state "step").
	Steps int
}

// NewAdam returns an optimiser over params with zero moments.
func NewAdam(params []*Param, cfg AdamConfig) (*Adam, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(params); err != nil {
		return nil, err
	}
	a := &Adam{Cfg: cfg, Params: params, M: make([][]float32, len(params)), V: make([][]float32, len(params))}
	for i, p := range params {
		a.M[i] = make([]float32, len(p.Data))
		a.V[i] = make([]float32, len(p.Data))
	}
	return a, nil
}

// checkParams checks that params is a usable list: not empty, unique
// names, data and gradient of the size the shape says.
func checkParams(params []*Param) error {
	if len(params) == 0 {
		return errors.New("training: the network has no parameters")
	}
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("training: parameter %d is nil", i)
		}
		if p.Name == "" {
			return fmt.Errorf("training: parameter %d has no name", i)
		}
		if seen[p.Name] {
			return fmt.Errorf("training: parameter name %q appears twice", p.Name)
		}
		seen[p.Name] = true
		n := 1
		for _, d := range p.Shape {
			if d < 0 {
				return fmt.Errorf("training: parameter %s has shape %v", p.Name, p.Shape)
			}
			n *= d
		}
		if len(p.Data) != n || len(p.Grad) != n {
			return fmt.Errorf("training: parameter %s: shape %v wants %d values, data has %d and grad %d",
				p.Name, p.Shape, n, len(p.Data), len(p.Grad))
		}
	}
	return nil
}

// Step applies one update with learning rate lr, using the gradients now in
// the parameters' Grad buffers (which it does not change).
func (a *Adam) Step(lr float64) {
	a.Steps++
	t := float64(a.Steps)
	bc1 := 1 - math.Pow(a.Cfg.Beta1, t)
	bc2 := 1 - math.Pow(a.Cfg.Beta2, t)
	stepSize := float32(-lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	b1, c1 := float32(a.Cfg.Beta1), float32(1-a.Cfg.Beta1)
	b2, c2 := float32(a.Cfg.Beta2), float32(1-a.Cfg.Beta2)
	eps, wd := float32(a.Cfg.Eps), float32(a.Cfg.WeightDecay)
	for i, p := range a.Params {
		m, v, d, g := a.M[i], a.V[i], p.Data, p.Grad
		m, v, g = m[:len(d)], v[:len(d)], g[:len(d)]
		for j := range d {
			gj := g[j]
			if wd != 0 {
				gj += float32(wd * d[j])
			}
			// Explicit conversions round every product: no FMA fusion.
			mj := float32(m[j]*b1) + float32(c1*gj)
			vj := float32(v[j]*b2) + float32(float32(c2*gj)*gj)
			m[j], v[j] = mj, vj
			denom := float32(float32(math.Sqrt(float64(vj)))/bc2Sqrt) + eps
			d[j] += float32(stepSize * float32(mj/denom))
		}
	}
}
