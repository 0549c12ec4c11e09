package training

// Streams of random numbers, one constant per use, so that the draws of one
// use never depend on another's.
const (
	streamEpoch    uint64 = 0x5851f42d4c957f2d // per-epoch image order
	streamSample   uint64 = 0x14057b7ef767814f // per-sample patch position and flips
	streamDropPath uint64 = 0xd1342543de82ef95 // per-iteration drop-path seed
	streamFlat     uint64 = 0x9fb21c651e98df25 // per-sample flat patch draw
)

// splitmix64 is a bijective 64-bit mixer (Steele et al.'s SplitMix64
// finaliser).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// derive hashes (seed, stream, n) into a 64-bit value.
func derive(seed, stream, n uint64) uint64 {
	return splitmix64(splitmix64(splitmix64(seed)^stream) ^ n)
}

// DropSeed is the drop-path seed that Run passes to Trainable.Step at
// iteration iter (1-based) of a run with the given seed.
func DropSeed(seed uint64, iter int) uint64 {
	return derive(seed, streamDropPath, uint64(iter))
}
