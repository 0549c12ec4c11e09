package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer"
)

// The web page in a real headless Chromium (Debian's chromium package),
// driven through the Chrome DevTools Protocol over --remote-debugging-pipe:
// JSON messages, each ended by a NUL byte, written to the browser's file
// descriptor 3 and read from its descriptor 4. No network port, no
// websocket, no dependency.

// chromiumPath finds the browser: $GRFORMER_CHROMIUM, else chromium or
// chromium-browser on the PATH; "" if none.
func chromiumPath() string {
	if p := os.Getenv("GRFORMER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cdpMsg is a CDP message: a call's answer (ID) or an event (Method).
type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// cdp is a minimal CDP client: calls and their answers; events are dropped.
type cdp struct {
	w       io.Writer
	mu      sync.Mutex
	id      int
	waiting map[int]chan cdpMsg
	readErr error
	closed  chan struct{}
}

func newCDP(w io.Writer, r io.Reader) *cdp {
	c := &cdp{w: w, waiting: map[int]chan cdpMsg{}, closed: make(chan struct{})}
	go func() {
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			b, err := br.ReadBytes(0)
			if err != nil {
				c.mu.Lock()
				c.readErr = err
				c.mu.Unlock()
				close(c.closed)
				return
			}
			var m cdpMsg
			if json.Unmarshal(b[:len(b)-1], &m) != nil || m.ID == 0 {
				continue
			}
			c.mu.Lock()
			ch := c.waiting[m.ID]
			delete(c.waiting, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}()
	return c
}

// call sends method with params in session ("" for the browser) and
// decodes the answer's result into result (if not nil).
func (c *cdp) call(session, method string, params, result any) error {
	c.mu.Lock()
	c.id++
	id := c.id
	ch := make(chan cdpMsg, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(cdpMsg{ID: id, Method: method, Params: p, SessionID: session})
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.closed:
		return fmt.Errorf("%s: browser gone: %v", method, c.readErr)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s: no answer in 60 s", method)
	}
}

// page is one browser tab.
type page struct {
	t       *testing.T
	c       *cdp
	session string
}

// eval evaluates a JavaScript expression in the page and decodes its
// (JSON-serialisable) value into v.
func (p *page) eval(expr string, v any) {
	p.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.c.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		p.t.Fatal(err)
	}
	if e := r.ExceptionDetails; e != nil {
		p.t.Fatalf("%s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if v != nil {
		if err := json.Unmarshal(r.Result.Value, v); err != nil {
			p.t.Fatalf("%s: %v (%s)", expr, err, r.Result.Value)
		}
	}
}

// waitTrue polls a JavaScript condition until it is true.
func (p *page) waitTrue(what, cond string, timeout time.Duration) {
	p.t.Helper()
	for deadline := time.Now().Add(timeout); ; {
		var ok bool
		p.eval("Boolean("+cond+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var state, text string
			p.eval("document.body.dataset.state", &state)
			p.eval(`document.getElementById("statusText").textContent`, &text)
			p.t.Fatalf("timed out waiting for %s (state %q: %q)", what, state, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setFile puts a file into the page's file input, as a user choosing it.
func (p *page) setFile(path string) {
	p.t.Helper()
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	if err := p.c.call(p.session, "DOM.getDocument", map[string]any{"depth": 0}, &doc); err != nil {
		p.t.Fatal(err)
	}
	var q struct {
		NodeID int `json:"nodeId"`
	}
	if err := p.c.call(p.session, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#file"}, &q); err != nil {
		p.t.Fatal(err)
	}
	if err := p.c.call(p.session, "DOM.setFileInputFiles", map[string]any{"nodeId": q.NodeID, "files": []string{path}}, nil); err != nil {
		p.t.Fatal(err)
	}
}

// startChromium starts the browser with a fresh profile and returns a page
// of width x height CSS pixels; the browser is closed at the end of the test.
func startChromium(t *testing.T, chrome string, width, height int) *page {
	t.Helper()
	toBrowser, ours, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	theirs, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	var stderr syncWriter
	cmd := exec.Command(chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--user-data-dir="+profile, "--remote-debugging-pipe",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--no-default-browser-check",
		"--disable-extensions", fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // its fds 3 and 4
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers can be ended with it
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	c := newCDP(ours, theirs)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		c.call("", "Browser.close", nil, nil)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group started above
			<-exited
		}
		ours.Close()
		theirs.Close()
	})
	var ver struct {
		Product string `json:"product"`
	}
	if err := c.call("", "Browser.getVersion", nil, &ver); err != nil {
		t.Fatalf("%v; chromium said: %s", err, stderr.String())
	}
	t.Logf("%s started in %.1f s", ver.Product, time.Since(t0).Seconds())
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, c: c, session: att.SessionID}
	if err := c.call(p.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestWebPage loads the page in headless Chromium, uploads a photo, picks
// a final size of x3, waits for the result, checks its size, the states
// the page went through and the download name, takes a screenshot
// ($GRFORMER_SCREENSHOT, else a temporary file) and checks that a bad file
// shows the server's error.
func TestWebPage(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("no chromium on the PATH (apt-get install chromium, or set GRFORMER_CHROMIUM): the web page is not tested")
	}
	m, err := grformer.LoadDefault(2) // real weights, for a screenshot worth looking at
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, []Model{{m, "grformer_light_x2.safetensors", "shipped"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	p := startChromium(t, chrome, 1100, 900)

	if err := p.c.call(p.session, "Page.navigate", map[string]any{"url": ts.URL + "/"}, nil); err != nil {
		t.Fatal(err)
	}
	p.waitTrue("the page and the model list", `document.readyState === "complete" && document.querySelectorAll("#scale option").length > 0`, 30*time.Second)
	var models string
	p.eval(`document.getElementById("models").textContent`, &models)
	if !strings.Contains(models, "×2") {
		t.Errorf("model line %q does not name x2", models)
	}

	photo, err := filepath.Abs("../testdata/upscale/photo.webp") // 150x103
	if err != nil {
		t.Fatal(err)
	}
	p.setFile(photo)
	p.waitTrue("the file to be taken", `document.body.dataset.state === "ready" && !document.getElementById("go").disabled`, 10*time.Second)
	p.eval(`document.getElementById("outscale").value = "3"; document.getElementById("go").click(); true`, nil)
	p.waitTrue("the result", `["done", "error"].includes(document.body.dataset.state)`, 120*time.Second)
	var got struct {
		State, Text, Download, Href, Info string
		States                            []string
		W, H, Bytes                       int
		BeforeW                           int
	}
	p.eval(`(() => { const d = document.body.dataset; return {
		State: d.state, Text: document.getElementById("statusText").textContent,
		States: window.grformerStates, W: +d.outWidth, H: +d.outHeight, Bytes: +d.outBytes,
		Download: document.getElementById("download").download, Href: document.getElementById("download").href,
		Info: document.getElementById("resultInfo").textContent,
		BeforeW: document.getElementById("before").naturalWidth }; })()`, &got)
	if got.State != "done" {
		t.Fatalf("page state %q: %q", got.State, got.Text)
	}
	if got.W != 450 || got.H != 309 || got.BeforeW != 150 {
		t.Errorf("result %dx%d (before %d wide), want 450x309 from 150", got.W, got.H, got.BeforeW)
	}
	for _, st := range []string{"ready", "uploading", "processing", "done"} {
		if !slices.Contains(got.States, st) {
			t.Errorf("states %v lack %q", got.States, st)
		}
	}
	if got.Download != "photo_x3.png" || !strings.HasPrefix(got.Href, "blob:") || got.Bytes < 1000 {
		t.Errorf("download %q %q (%d bytes), want photo_x3.png as a blob", got.Download, got.Href, got.Bytes)
	}
	t.Logf("states %v; %s; %s", got.States, got.Text, got.Info)

	// Move the slider to show before (left) and after (right), and look.
	p.eval(`(() => { const s = document.getElementById("slider"); s.value = 40; s.dispatchEvent(new Event("input")); return true; })()`, nil)
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.c.call(p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != 1100 || sz.Y != 900 {
		t.Errorf("screenshot %v, want 1100x900", sz)
	}
	var box struct{ X, Y, W, H float64 }
	p.eval(`(() => { const r = document.getElementById("compare").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`, &box)
	if box.W != 450 || box.H < 300 || box.Y+box.H > 900 {
		t.Errorf("comparison box %+v, want 450 wide and within the screenshot", box)
	} else if v := variance(img, image.Rect(int(box.X), int(box.Y), int(box.X+box.W), int(box.Y+box.H))); v < 100 {
		t.Errorf("the comparison area of the screenshot is flat (variance %.1f)", v)
	}
	out := os.Getenv("GRFORMER_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "page.png")
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)

	// A file that is no image: the server's 415 shows on the page.
	bad := filepath.Join(t.TempDir(), "notes.png")
	if err := os.WriteFile(bad, []byte("these are notes, not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.setFile(bad)
	p.waitTrue("the bad file to be taken", `document.body.dataset.state === "ready"`, 10*time.Second)
	p.eval(`document.getElementById("go").click(); true`, nil)
	p.waitTrue("the error", `document.body.dataset.state === "error"`, 30*time.Second)
	var text string
	p.eval(`document.getElementById("statusText").textContent`, &text)
	if !strings.Contains(text, "415") || !strings.Contains(text, "unknown image format") {
		t.Errorf("error shown: %q, want the 415 and its reason", text)
	}
}

// variance is the variance of the green channel (0-255) over r.
func variance(img image.Image, r image.Rectangle) float64 {
	var s, s2, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			_, g, _, _ := img.At(x, y).RGBA()
			v := float64(g >> 8)
			s, s2, n = s+v, s2+v*v, n+1
		}
	}
	if n == 0 {
		return 0
	}
	m := s / n
	return s2/n - m*m
}
