package training

import (
	"fmt"
	"math"
	"slices"
)

// Schedule kinds (Schedule.Kind).
const (
	// SchedMultiStep is MultiStepLR: the rate is multiplied by Gamma at
	// each milestone.
	SchedMultiStep = "multistep"
	// SchedCosine is cosine annealing from the base rate down to MinLR
	// over Period iterations (PyTorch's CosineAnnealingLR, no restart).
	SchedCosine = "cosine"
	// SchedConstant keeps the base rate.
	SchedConstant = "constant"
)

// DefaultMilestoneFractions place the MultiStepLR milestones when none are
// given: the paper's 250k, 400k, 450k, 475k of 500k iterations, as
// fractions of the run's length.
var DefaultMilestoneFractions = []float64{0.5, 0.8, 0.9, 0.95}

// Schedule is a learning-rate schedule. LR(i) is the rate of iteration i
// (1-based), stepped as BasicSR steps its PyTorch schedulers: the scheduler
// has been stepped i-1 times when iteration i runs, so a milestone M first
// applies to iteration M+1.
type Schedule struct {
	// Kind is SchedMultiStep (the default when empty), SchedCosine or
	// SchedConstant.
	Kind string `yaml:"kind" json:"kind"`
	// Milestones (multistep) are iterations after which the rate is
	// multiplied by Gamma. Empty: DefaultMilestoneFractions of the run's
	// length, fixed when the run starts (a resumed run keeps them).
	Milestones []int `yaml:"milestones" json:"milestones"`
	// Gamma is the multistep factor (0.5 in the recipe).
	Gamma float64 `yaml:"gamma" json:"gamma"`
	// Period (cosine) is the number of iterations from the base rate to
	// MinLR; 0: the run's length, fixed when the run starts.
	Period int `yaml:"period" json:"period"`
	// MinLR (cosine) is the final rate (PyTorch's eta_min).
	MinLR float64 `yaml:"min_lr" json:"min_lr"`
	// Warmup is a number of iterations of linear warm-up, as BasicSR's
	// warmup_iter: iteration i < Warmup runs at rate*i/Warmup.
	Warmup int `yaml:"warmup" json:"warmup"`
}

// DefaultSchedule is the paper's: MultiStepLR with gamma 0.5 and the
// default milestones.
func DefaultSchedule() Schedule {
	return Schedule{Kind: SchedMultiStep, Gamma: 0.5}
}

// Resolve fills in what depends on the length of the run (default
// milestones, default cosine period) and validates the schedule.
func (s Schedule) Resolve(iters int) (Schedule, error) {
	if s.Kind == "" {
		s.Kind = SchedMultiStep
	}
	switch s.Kind {
	case SchedMultiStep:
		if len(s.Milestones) == 0 {
			for _, f := range DefaultMilestoneFractions {
				s.Milestones = append(s.Milestones, int(math.Round(f*float64(iters))))
			}
		}
		s.Milestones = slices.Clone(s.Milestones)
		slices.Sort(s.Milestones)
		for _, m := range s.Milestones {
			if m < 0 {
				return s, fmt.Errorf("training: schedule milestone %d is negative", m)
			}
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			return s, fmt.Errorf("training: schedule gamma %g must be positive", s.Gamma)
		}
	case SchedCosine:
		if s.Period == 0 {
			s.Period = iters
		}
		if s.Period < 1 {
			return s, fmt.Errorf("training: cosine period %d must be positive", s.Period)
		}
		if !(s.MinLR >= 0) || math.IsInf(s.MinLR, 0) {
			return s, fmt.Errorf("training: cosine min_lr %g must be >= 0", s.MinLR)
		}
	case SchedConstant:
	default:
		return s, fmt.Errorf("training: unknown schedule %q (want %s, %s or %s)", s.Kind, SchedMultiStep, SchedCosine, SchedConstant)
	}
	if s.Warmup < 0 {
		return s, fmt.Errorf("training: warmup %d is negative", s.Warmup)
	}
	return s, nil
}

// LR returns the learning rate of iteration iter (1-based) for base rate
// base. s should have been resolved (Resolve).
func (s Schedule) LR(base float64, iter int) float64 {
	e := iter - 1 // times the scheduler was stepped
	lr := base
	switch s.Kind {
	case SchedMultiStep, "":
		for _, m := range s.Milestones {
			if e >= m {
				lr *= s.Gamma
			}
		}
	case SchedCosine:
		t := min(e, s.Period)
		lr = s.MinLR + (base-s.MinLR)*(1+math.Cos(math.Pi*float64(t)/float64(s.Period)))/2
	}
	if s.Warmup > 0 && iter < s.Warmup {
		lr *= float64(iter) / float64(s.Warmup)
	}
	return lr
}
