package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func init() {
	register("version", "print the version of grformer and of Go it was built with", runVersion)
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", `Usage: grformer version   (or grformer -version)

Prints the module version (a release tag when installed with go install
MODULE@VERSION, "(devel)" when built from a checkout), the Go version and
platform, and the version control revision and time when the build
recorded them (builds from a git checkout do, unless -buildvcs=false).`, stdout, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	fmt.Fprintln(stdout, versionString())
	return nil
}

// versionString is one line: "grformer VERSION (GO, OS/ARCH[, rev REV[+dirty], TIME])".
func versionString() string {
	version, rev, at, dirty := "unknown", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	s := fmt.Sprintf("grformer %s (%s, %s/%s", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		s += ", rev " + rev
		if at != "" {
			s += " " + at
		}
	}
	return s + ")"
}
