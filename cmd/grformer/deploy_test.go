package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/grformer/grformer/server"
)

const deployDir = "../../deploy"

// The parts of the Kubernetes objects the test checks.
type (
	k8sObject struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Resources []string `yaml:"resources"` // Kustomization
		Spec      k8sSpec  `yaml:"spec"`
	}
	k8sSpec struct {
		// Deployment
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service (Selector as a plain map) and HPA
		ServiceSelector map[string]string `yaml:"-"`
		Ports           []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas int `yaml:"minReplicas"`
		MaxReplicas int `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization int    `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	}
	k8sContainer struct {
		Name  string `yaml:"name"`
		Image string `yaml:"image"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		StartupProbe   *k8sProbe `yaml:"startupProbe"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string    `yaml:"path"`
			Port yaml.Node `yaml:"port"`
		} `yaml:"httpGet"`
	}
)

// readManifests decodes every document of every YAML file in dir, keyed
// by kind.
func readManifests(t *testing.T, dir string) (map[string]k8sObject, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	objs := map[string]k8sObject{}
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var raw yaml.Node
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			// Lenient: the structs above name only what is checked.
			var o k8sObject
			if err := raw.Decode(&o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "Service" { // its selector is a plain map
				var svc struct {
					Spec struct {
						Selector map[string]string `yaml:"selector"`
					} `yaml:"spec"`
				}
				if err := raw.Decode(&svc); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				o.Spec.ServiceSelector = svc.Spec.Selector
			}
			if _, dup := objs[o.Kind]; dup {
				t.Fatalf("two %s objects", o.Kind)
			}
			objs[o.Kind] = o
		}
		names = append(names, filepath.Base(f))
	}
	return objs, names
}

// quantity parses a Kubernetes memory quantity (plain, k/M/G or Ki/Mi/Gi).
func quantity(t *testing.T, q string) int64 {
	t.Helper()
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(q, u.suffix); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", q, err)
			}
			return n * u.mult
		}
	}
	n, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", q, err)
	}
	return n
}

// portMatches tells whether a probe's or Service's port (a number or a
// name) designates the container port.
func portMatches(n yaml.Node, name string, port int) bool {
	return n.Value == name || n.Value == strconv.Itoa(port)
}

// TestKubernetesManifests parses deploy/kubernetes and checks what makes
// the example work with this server.
func TestKubernetesManifests(t *testing.T) {
	objs, files := readManifests(t, filepath.Join(deployDir, "kubernetes"))
	for _, k := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "Kustomization"} {
		if _, ok := objs[k]; !ok {
			t.Fatalf("no %s in deploy/kubernetes (kinds: %v)", k, files)
		}
	}
	kz := objs["Kustomization"]
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(kz.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}

	dep := objs["Deployment"]
	if dep.APIVersion != "apps/v1" || dep.Metadata.Name == "" {
		t.Errorf("Deployment %s %q", dep.APIVersion, dep.Metadata.Name)
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods", k, v)
		}
	}
	pod := dep.Spec.Template.Spec
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Error("the pods may run as root")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	// The container port is the port the server listens on.
	addr := env["GRFORMER_ADDR"]
	if addr == "" {
		addr = server.DefaultAddr
	}
	_, p, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("GRFORMER_ADDR %q", addr)
	}
	portName := ""
	for _, cp := range c.Ports {
		if cp.ContainerPort == port {
			portName = cp.Name
		}
	}
	if portName == "" {
		t.Fatalf("no container port %d (the server's %s)", port, addr)
	}
	for _, pr := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{
		{"liveness", c.LivenessProbe, server.HealthPath},
		{"readiness", c.ReadinessProbe, server.ReadyPath},
		{"startup", c.StartupProbe, server.HealthPath},
	} {
		switch {
		case pr.probe == nil || pr.probe.HTTPGet == nil:
			t.Errorf("no %s probe", pr.name)
		case pr.probe.HTTPGet.Path != pr.path || !portMatches(pr.probe.HTTPGet.Port, portName, port):
			t.Errorf("%s probe on %s port %s, want %s on %d (%s)", pr.name, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.Value, pr.path, port, portName)
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("no %s request and limit", r)
		}
	}
	limit := quantity(t, c.Resources.Limits["memory"])
	budget, err := parseBytes(env["GRFORMER_MAX_MEMORY"])
	if err != nil || budget <= 0 || budget > limit*15/16 {
		t.Errorf("GRFORMER_MAX_MEMORY %q must be set and leave a sixteenth of the limit %s (%d)", env["GRFORMER_MAX_MEMORY"], c.Resources.Limits["memory"], limit)
	}
	drain, _ := time.ParseDuration(env["GRFORMER_DRAIN_DELAY"])
	shutdown := server.DefaultShutdownTimeout
	if v := env["GRFORMER_SHUTDOWN_TIMEOUT"]; v != "" {
		shutdown, _ = time.ParseDuration(v)
	}
	if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace < drain+shutdown {
		t.Errorf("terminationGracePeriodSeconds %v < drain delay %v + shutdown timeout %v: requests would be killed", grace, drain, shutdown)
	}

	// grformer serve accepts the Deployment's environment: every variable
	// is a flag's, and the values parse and fit. Flags override the
	// address (to stay on this machine) and the drain delay; the context
	// is already done, so the server starts and stops at once.
	flags := serveFlagNames(t)
	for name := range env {
		if !slices.ContainsFunc(flags, func(f string) bool { return envName(f) == name }) {
			t.Errorf("%s is no grformer serve flag's variable", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := serveMain(ctx, []string{"-addr", "127.0.0.1:0", "-drain-delay", "0"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Errorf("grformer serve refuses the Deployment's environment: %v", err)
	}

	svc := objs["Service"]
	for k, v := range svc.Spec.ServiceSelector {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service's selector %s=%s matches no pod", k, v)
		}
	}
	if len(svc.Spec.ServiceSelector) == 0 || len(svc.Spec.Ports) == 0 || !portMatches(svc.Spec.Ports[0].TargetPort, portName, port) {
		t.Errorf("the Service does not reach the container port %d (%s): %+v", port, portName, svc.Spec.Ports)
	}

	hpa := objs["HorizontalPodAutoscaler"]
	ref := hpa.Spec.ScaleTargetRef
	if hpa.APIVersion != "autoscaling/v2" || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != dep.Metadata.Name {
		t.Errorf("the HPA (%s) targets %s %s %q, want the Deployment %q", hpa.APIVersion, ref.APIVersion, ref.Kind, ref.Name, dep.Metadata.Name)
	}
	if hpa.Spec.MinReplicas < 1 || hpa.Spec.MaxReplicas < hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %d..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	if m := hpa.Spec.Metrics; len(m) != 1 || m[0].Type != "Resource" || m[0].Resource.Name != "cpu" ||
		m[0].Resource.Target.Type != "Utilization" || m[0].Resource.Target.AverageUtilization < 1 {
		t.Errorf("HPA metrics %+v, want CPU utilisation", m)
	}
}

// serveFlagNames lists the flags of grformer serve, from its usage.
func serveFlagNames(t *testing.T) []string {
	var b bytes.Buffer
	serveMain(context.Background(), []string{"-h"}, func(string) string { return "" }, &b, &b)
	var names []string
	re := regexp.MustCompile(`^  -([a-z-]+)`)
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only flags %v in the usage", names)
	}
	return names
}

// TestDockerfile checks the container build: two stages, a static Go build
// of the command, a non-root user, the server's port, serve as entry point.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var from []string
	var lastStage []string // instructions after the last FROM
	var builds []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			from = append(from, rest)
			lastStage = nil
		case "RUN":
			if strings.Contains(rest, "go build") {
				builds = append(builds, rest)
			}
		}
		lastStage = append(lastStage, line)
	}
	if len(from) < 2 || !strings.Contains(strings.ToLower(from[0]), " as ") {
		t.Errorf("FROM lines %q: want a named build stage and a final stage", from)
	}
	if len(builds) != 1 || !strings.Contains(builds[0], "CGO_ENABLED=0") || !strings.Contains(builds[0], "./cmd/grformer") {
		t.Errorf("go build steps %q: want one static build (CGO_ENABLED=0) of ./cmd/grformer", builds)
	}
	final := strings.Join(lastStage, "\n")
	_, port, _ := strings.Cut(server.DefaultAddr, ":")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^COPY --from=\S+ \S*grformer `),
		regexp.MustCompile(`(?m)^USER (\d+)`),
		regexp.MustCompile(`(?m)^EXPOSE ` + port + `$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \[.*"serve"\]`),
	} {
		m := want.FindStringSubmatch(final)
		if m == nil {
			t.Errorf("the final stage lacks %s:\n%s", want, final)
		} else if len(m) > 1 && (m[1] == "0") {
			t.Error("the final stage runs as root")
		}
	}
}
