package checkpoint_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/grformer/grformer/checkpoint"
)

// Read a BasicSR checkpoint and write it as safetensors.
func ExampleLoad() {
	sd, info, err := checkpoint.LoadWithInfo("../testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		panic(err)
	}
	w := sd["conv_first.weight"]
	fmt.Println(info.Format, info.Source, w.DType, w.Shape)

	dir, _ := os.MkdirTemp("", "ckpt")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "tiny_x2.safetensors")
	if err := checkpoint.WriteFile(out, sd); err != nil { // atomic: temp file + rename
		panic(err)
	}
	back, err := checkpoint.Load(out)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(back) == len(sd))
	// Output:
	// pth params F32 [16 3 3 3]
	// true
}
