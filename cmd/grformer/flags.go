package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is a flag.FlagSet that lets flags and arguments mix
// ("upscale in.png out.png -tta"), prints -h to stdout and reports errors
// instead of exiting. Make one with newFlagSet and parse with parseFlags.
type flagSet struct {
	*flag.FlagSet
	stdout io.Writer
	args   []string // the arguments left after the flags
}

// newFlagSet makes a flagSet whose usage (headed by the given text) goes to
// stdout for -h and to stderr, with the errors, otherwise.
func newFlagSet(name, head string, stdout, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), stdout: stdout}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, head)
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// Args, NArg and Arg are the arguments that are not flags, in order.
func (fs *flagSet) Args() []string   { return fs.args }
func (fs *flagSet) NArg() int        { return len(fs.args) }
func (fs *flagSet) Arg(i int) string { return fs.args[i] }

// parseFlags parses args, in which flags and other arguments may mix: a
// flag is any argument that starts with "-" (but "-" alone, which names
// stdin or stdout, is an argument), and a flag that is not boolean takes the
// next argument as its value unless written -flag=value. "--" ends the
// flags: everything after it is an argument. -h, -help and --help print the
// usage to stdout and return flag.ErrHelp; a flag error is printed (with
// the usage) to stderr and returns errFlags.
func parseFlags(fs *flagSet, args []string) error {
	var flags []string
	fs.args = nil
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			fs.args = append(fs.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			fs.args = append(fs.args, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, hasValue := strings.Cut(name, "=")
		if (name == "h" || name == "help") && fs.Lookup(name) == nil {
			out := fs.Output()
			fs.SetOutput(fs.stdout)
			fs.Usage()
			fs.SetOutput(out)
			return flag.ErrHelp
		}
		flags = append(flags, a)
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.FlagSet.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errFlags
	}
	if rest := fs.FlagSet.Args(); len(rest) > 0 { // cannot happen: every token was a flag or a value
		return usagef("unexpected arguments %q", rest)
	}
	return nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// errFlags is returned when flag parsing failed; the flag package has already
// printed the problem and the usage.
var errFlags = errors.New("bad flags")

// usageError is a wrong flag value or wrong arguments, found after parsing:
// the command exits with status 2, as for a flag the flag package refuses.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef makes a *usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}
