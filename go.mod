module github.com/grformer/grformer

go 1.26.8
