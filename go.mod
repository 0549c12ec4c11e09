module github.com/grformer/grformer

go 1.26.8

require (
	github.com/nlpodyssey/gopickle v0.2.0
	golang.org/x/image v0.47.0
)
