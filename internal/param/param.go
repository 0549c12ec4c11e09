// Package param holds the one type shared by the network with gradients
// (package backprop) and the training loop (package training): a named
// parameter with its gradient.
package param

// Param is one trainable tensor, named by its PyTorch state-dict key.
// Data and Grad have the same length, the product of Shape.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
}

// Len is the number of elements.
func (p *Param) Len() int { return len(p.Data) }
