package gemm_test

import (
	"fmt"

	"github.com/grformer/grformer/internal/gemm"
)

// A Linear layer in bf16: the weight [out=2, in=3] is packed once, the fp32 activations are
// rounded to bf16 on the fly, products are summed in fp32. 1.00390625 = 1 + 2^-8 lies halfway
// between two bf16 values and rounds to the even one, 1.
func ExamplePackedBF16_Mul() {
	w := gemm.PackNTBF16(2, 3, []float32{1, 2, 3, 4, 5, 6}, 3)
	x := []float32{
		1, 0.5, -1,
		2, 1.00390625, 0,
	}
	y := make([]float32, 2*2)
	w.Mul(2, x, 3, y, 2, []float32{0.25, 0}, false)
	fmt.Println(y)
	// Output: [-0.75 0.5 4.25 13]
}
