// Package kerneltest is the one test harness of the kernel packages
// (internal/gemm, internal/vmath, internal/dwconv, internal/kernels), in the
// spirit of ggml's test-backend-ops: every case runs on every implementation
// this CPU has (ForEachImpl: AVX-512, AVX2, portable Go, forced through the
// one switch of internal/cpu), on buffers placed against an inaccessible page
// (Floats, internal/guardmem), and is compared with the plain reference
// within a stated tolerance (Close). BenchImpls times a kernel on every
// implementation and its reference. Only tests import it.
//
//	ForEachImpl, ForEachPlacement   run a test on every implementation / guard placement
//	Floats, Int32s, Release         guarded buffers
//	Fill, Abs, Sentinel, Close      data, error scales, untouched values, the comparison
//	BenchImpls, Bench               benchmarks: mean and best rate of every implementation
//
// layout.go holds plain references of the model's index maps (Roll, WindowPartition,
// WindowReverse), which the model's tests check its window index against.
package kerneltest
