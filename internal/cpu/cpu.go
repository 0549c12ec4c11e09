// Package cpu detects the SIMD extensions the kernel packages use and holds
// each package's choice of implementation, so that gemm, vmath and dwconv
// share one detection and one way to force the portable Go fallback.
package cpu

import (
	"fmt"
	"sync/atomic"
)

// Implementation levels, best last.
const (
	Generic int32 = iota // portable Go
	AVX2                 // AVX2 + FMA, 256-bit
	AVX512               // AVX-512F, 512-bit
)

var names = [...]string{Generic: "generic", AVX2: "avx2", AVX512: "avx512"}

// HasAVX2 and HasAVX512 report what this CPU and its operating system
// support (always false in purego builds and on other architectures).
var HasAVX2, HasAVX512 = detect()

// Best is the best level this machine runs.
func Best() int32 {
	switch {
	case HasAVX512:
		return AVX512
	case HasAVX2:
		return AVX2
	}
	return Generic
}

// Switch is one package's current implementation level. The zero value is
// not usable; make one with NewSwitch.
type Switch struct {
	pkg string
	v   atomic.Int32
}

// NewSwitch returns a switch set to the best level, naming pkg in errors.
func NewSwitch(pkg string) *Switch {
	s := &Switch{pkg: pkg}
	s.v.Store(Best())
	return s
}

// Load returns the current level.
func (s *Switch) Load() int32 { return s.v.Load() }

// Name names the current level: "avx512", "avx2" or "generic".
func (s *Switch) Name() string { return names[s.v.Load()] }

// Impls lists the levels this machine can run, best first.
func (s *Switch) Impls() []string {
	var l []string
	for i := Best(); i >= Generic; i-- {
		l = append(l, names[i])
	}
	return l
}

// SetGeneric forces the portable Go implementation (on) or restores the
// best one (off), and reports whether the generic one was in use before.
func (s *Switch) SetGeneric(on bool) (prev bool) {
	v := Best()
	if on {
		v = Generic
	}
	return s.v.Swap(v) == Generic
}

// Set selects a level by name ("" is the best one) and returns the previous
// name. It fails for an unknown name or one this machine cannot run.
func (s *Switch) Set(name string) (prev string, err error) {
	v := Best()
	if name != "" {
		v = -1
		for i, n := range names {
			if n == name {
				v = int32(i)
			}
		}
		if v < 0 {
			return s.Name(), fmt.Errorf("%s: unknown implementation %q", s.pkg, name)
		}
		if v > Best() {
			return s.Name(), fmt.Errorf("%s: implementation %q not supported by this CPU", s.pkg, name)
		}
	}
	return names[s.v.Swap(v)], nil
}
