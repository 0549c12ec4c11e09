package training

import (
	"strconv"

	"github.com/grformer/grformer/checkpoint"
)

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func f32s(sd checkpoint.StateDict) map[string][]float32 {
	out := map[string][]float32{}
	for k, t := range sd {
		out[k] = t.F32
	}
	return out
}
