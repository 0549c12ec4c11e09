package training

import (
	"math"
	"testing"
)

// adamRef is Adam in float64 in the textbook form (bias-corrected moments).
func adamRef(p float64, grads []float64, lr, b1, b2, eps, wd float64) []float64 {
	var m, v float64
	out := make([]float64, len(grads))
	for t, g := range grads {
		g += wd * p
		m = b1*m + (1-b1)*g
		v = b2*v + (1-b2)*g*g
		mh := m / (1 - math.Pow(b1, float64(t+1)))
		vh := v / (1 - math.Pow(b2, float64(t+1)))
		p -= lr * mh / (math.Sqrt(vh) + eps)
		out[t] = p
	}
	return out
}

func TestAdamHand(t *testing.T) {
	// One literal step: p = 1, g = 0.5, lr 0.1: m = 0.05, v = 0.0025,
	// m^ = 0.5, v^ = 0.25, p = 1 - 0.1*0.5/(0.5+1e-8) = 0.9000000002.
	p := &Param{Name: "p", Shape: []int{1}, Data: []float32{1}, Grad: []float32{0.5}}
	a, err := NewAdam([]*Param{p}, DefaultAdam())
	if err != nil {
		t.Fatal(err)
	}
	a.Step(0.1)
	if p.Data[0] != 0.9 || a.M[0][0] != 0.05 || math.Abs(float64(a.V[0][0])-0.0025) > 1e-10 || a.Steps != 1 {
		t.Fatalf("after one step: p %v m %v v %v steps %d", p.Data[0], a.M[0][0], a.V[0][0], a.Steps)
	}

	cases := []struct {
		name            string
		p0              float64
		grads           []float64
		lr, b1, b2, eps float64
		wd              float64
	}{
		{"recipe", 0.3, []float64{0.5, -0.2, 0.1, 0.7, -1.3}, 2e-4, 0.9, 0.99, 1e-8, 0},
		{"large lr", -1.5, []float64{2, 2, -3, 0.01}, 0.1, 0.9, 0.999, 1e-8, 0},
		{"zero grads", 0.25, []float64{0, 0, 0}, 0.1, 0.9, 0.99, 1e-8, 0},
		{"tiny grads eps matters", 1, []float64{1e-9, -2e-9, 1e-9}, 0.01, 0.9, 0.99, 1e-8, 0},
		{"weight decay L2", 2, []float64{0.1, 0.1, 0.1}, 0.05, 0.9, 0.99, 1e-8, 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Param{Name: "w", Shape: []int{1}, Data: []float32{float32(c.p0)}, Grad: make([]float32, 1)}
			a, err := NewAdam([]*Param{p}, AdamConfig{Beta1: c.b1, Beta2: c.b2, Eps: c.eps, WeightDecay: c.wd})
			if err != nil {
				t.Fatal(err)
			}
			want := adamRef(float64(float32(c.p0)), c.grads, c.lr, c.b1, c.b2, c.eps, c.wd)
			for i, g := range c.grads {
				p.Grad[0] = float32(g)
				a.Step(c.lr)
				if d := math.Abs(float64(p.Data[0]) - want[i]); d > 2e-7*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("step %d: got %.9g want %.9g (diff %g)", i+1, p.Data[0], want[i], d)
				}
			}
		})
	}
}

func TestAdamBadConfig(t *testing.T) {
	p := []*Param{{Name: "p", Shape: []int{2}, Data: make([]float32, 2), Grad: make([]float32, 2)}}
	for _, c := range []AdamConfig{{Beta1: 1, Beta2: 0.99, Eps: 1e-8}, {Beta1: 0.9, Beta2: -0.1, Eps: 1e-8}, {Beta1: 0.9, Beta2: 0.99}, {Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: -1}} {
		if _, err := NewAdam(p, c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	bad := [][]*Param{
		nil,
		{{Name: "", Shape: []int{1}, Data: make([]float32, 1), Grad: make([]float32, 1)}},
		{{Name: "a", Shape: []int{2}, Data: make([]float32, 1), Grad: make([]float32, 1)}},
		{{Name: "a", Shape: []int{1}, Data: make([]float32, 1), Grad: make([]float32, 1)}, {Name: "a", Shape: []int{1}, Data: make([]float32, 1), Grad: make([]float32, 1)}},
	}
	for i, ps := range bad {
		if _, err := NewAdam(ps, DefaultAdam()); err == nil {
			t.Errorf("bad params %d: no error", i)
		}
	}
}

func TestSchedules(t *testing.T) {
	type at struct {
		iter int
		lr   float64
	}
	cases := []struct {
		name  string
		s     Schedule
		iters int
		want  []at
	}{
		{"multistep", Schedule{Kind: SchedMultiStep, Milestones: []int{2, 4}, Gamma: 0.5}, 10,
			[]at{{1, 1}, {2, 1}, {3, 0.5}, {4, 0.5}, {5, 0.25}, {10, 0.25}}},
		{"multistep default milestones", Schedule{Gamma: 0.5}, 500000,
			[]at{{250000, 1}, {250001, 0.5}, {400001, 0.25}, {450001, 0.125}, {475000, 0.125}, {475001, 0.0625}, {500000, 0.0625}}},
		{"cosine", Schedule{Kind: SchedCosine, Period: 10, MinLR: 0}, 20,
			[]at{{1, 1}, {6, 0.5}, {11, 0}, {20, 0}}},
		{"cosine min", Schedule{Kind: SchedCosine, MinLR: 0.1}, 4,
			[]at{{1, 1}, {3, 0.55}, {5, 0.1}, {9, 0.1}}},
		{"warmup", Schedule{Kind: SchedConstant, Warmup: 4}, 10,
			[]at{{1, 0.25}, {2, 0.5}, {3, 0.75}, {4, 1}, {9, 1}}},
		{"warmup cosine", Schedule{Kind: SchedCosine, Period: 4, Warmup: 2}, 4,
			[]at{{1, 0.5}, {2, 0.8535533905932737}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.s.Resolve(c.iters)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if got := s.LR(1, w.iter); math.Abs(got-w.lr) > 1e-12 {
					t.Errorf("iter %d: lr %g, want %g", w.iter, got, w.lr)
				}
			}
		})
	}
	s, _ := Schedule{Gamma: 0.5}.Resolve(500000)
	if want := []int{250000, 400000, 450000, 475000}; len(s.Milestones) != 4 || s.Milestones[0] != want[0] || s.Milestones[3] != want[3] {
		t.Errorf("default milestones %v, want %v", s.Milestones, want)
	}
	for _, bad := range []Schedule{{Kind: "step"}, {Kind: SchedMultiStep, Gamma: 0}, {Kind: SchedMultiStep, Gamma: 0.5, Milestones: []int{-1}}, {Kind: SchedCosine, Period: -2}, {Kind: SchedConstant, Warmup: -1}} {
		if _, err := bad.Resolve(100); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestEMA(t *testing.T) {
	p := &Param{Name: "p", Shape: []int{2}, Data: []float32{0, 2}, Grad: make([]float32, 2)}
	e, err := NewEMA([]*Param{p}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	p.Data[0], p.Data[1] = 1, 2
	e.Update([]*Param{p})
	if math.Abs(float64(e.Shadow[0][0])-0.1) > 1e-7 || e.Shadow[0][1] != 2 {
		t.Fatalf("after one update: %v", e.Shadow[0])
	}
	e.Update([]*Param{p})
	if math.Abs(float64(e.Shadow[0][0])-0.19) > 1e-7 {
		t.Fatalf("after two updates: %v", e.Shadow[0])
	}
	// The shadow is a copy, not an alias.
	p.Data[1] = 5
	if e.Shadow[0][1] != 2 {
		t.Fatal("shadow aliases the weights")
	}
	for _, d := range []float64{-0.1, 1, math.NaN()} {
		if _, err := NewEMA([]*Param{p}, d); err == nil {
			t.Errorf("decay %v: no error", d)
		}
	}
}
