// Package server is grformer's HTTP service (grformer serve): an upscale
// API, a web page, health and readiness probes and Prometheus metrics,
// built on net/http and the root package's library API. It keeps no state
// between requests, so any number of replicas can run behind a load
// balancer (deploy/ has a container and a Kubernetes example).
//
// # Endpoints
//
//	POST /v1/upscale  the image file as the body (PNG, JPEG, WebP, BMP, TIFF);
//	                  the result as the answer (image/png or image/jpeg).
//	                  Query: scale (the model: 2, 3, 4; default the smallest
//	                  loaded, or the smallest reaching outscale), outscale
//	                  (final size factor, resized by MATLAB's bicubic),
//	                  format (png, jpeg; default the input's for PNG and JPEG,
//	                  else png), quality (JPEG, 1-100), tta (true: the
//	                  8-fold self-ensemble), alpha (model or bicubic).
//	                  Headers X-Grformer-Scale, -Input-Size, -Output-Size and
//	                  Server-Timing describe the result.
//	GET  /v1/models   the loaded models (scale, name, parameters) and limits, JSON.
//	GET  /healthz     200 while the process runs.
//	GET  /readyz      200 when accepting upscales; 503 once shutting down.
//	GET  /metrics     Prometheus metrics (below).
//	GET  /            the web page (web/, embedded): drop or choose an image,
//	                  options, progress, a before/after slider, download.
//
// Errors are JSON {"error": "..."} with the status: 400 bad parameters or
// corrupt image, 405 not POST, 413 body over Config.MaxBodyBytes, image
// over Config.MaxPixels (read from the header, before decoding: a
// decompression bomb costs nothing) or over the per-request memory share,
// 415 not an image format, 429 queue full (Retry-After), 503 shutting down,
// 504 past Config.Timeout. A client that goes away cancels its upscale
// (the request context reaches the library, which checks it between tiles
// and inside the forward pass); it is counted as 499.
//
// # Concurrency and memory
//
// At most Config.Concurrency upscales run at once, each with
// Config.Threads goroutines; up to Config.Queue more wait for a slot, and
// past that requests get 429 at once. Config.MaxMemory, less a reserve for
// the program and the models, is split evenly among the slots: each upscale
// plans its body, decoded input, tiles (chosen by the library to fit,
// grformer.Options.MaxMemory), result, resize and encoding within its
// share, so the process stays within MaxMemory (with the Go memory limit
// set just below it, as grformer serve does). Queued requests hold no
// memory: a body is read once its request has a slot.
//
// # Shutdown
//
// Run serves until its context is done (grformer serve: SIGTERM or
// SIGINT), then answers 503 to /readyz and to new upscales, waits
// Config.DrainDelay, closes the listener and lets the running and queued
// requests finish (up to Config.ShutdownTimeout, after which they are
// cancelled).
//
// # Metrics
//
//	grformer_http_requests_total{handler,code}   answers by handler and status (499: client gone)
//	grformer_upscale_duration_seconds{code}      upscale latency histogram, queue included
//	grformer_queue_length                        upscales waiting for a slot
//	grformer_in_flight_requests                  upscales holding a slot
//	grformer_input_pixels_total, grformer_output_pixels_total   pixels of successful upscales
//	grformer_forward_passes_total                forward passes (tiles) run
//	grformer_concurrency_limit, grformer_queue_limit            the configured limits
//
// and the Go runtime's (go_*) and the process's (process_*) collectors.
//
// # Files
//
//   - server.go: Config, Model, New, Run (graceful shutdown), probes, /v1/models.
//   - upscale.go: the upscale handler: parameters, admission and queue,
//     limits, memory plan, decode, upscale, encode, error statuses.
//   - metrics.go: the Prometheus registry and the per-handler instrumentation.
//   - web.go, web/: the embedded page (index.html, style.css, app.js).
package server
