package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/server"
)

// A server with one model (here the tiny x2 test model; grformer serve
// loads the shipped weights), two upscales at a time and a 512 MiB budget,
// answering an upscale request. In a program, srv.ListenAndServe(ctx) serves
// until ctx is done and then shuts down gracefully.
func Example() {
	m, err := grformer.Load("../testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Concurrency: 2, MaxMemory: 512 << 20},
		[]server.Model{{Model: m, Name: "tiny_x2", Source: "test"}})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	var in bytes.Buffer
	png.Encode(&in, image.NewGray(image.Rect(0, 0, 40, 30)))
	req, _ := http.NewRequestWithContext(context.Background(), "POST", ts.URL+server.UpscalePath+"?format=png", &in)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := png.DecodeConfig(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), out.Width, out.Height)
	// Output:
	// 200 OK image/png 80 60
}
