package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestInfoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-weights", "shipped", "-scale", "7"},
		{"-preset", "nope"},
		{"-preset", "light-x4", "-size", "0x5"},
		{"-preset", "light-x4", "-size", "10x10", "-out-size", "20x20"},
		{"-preset", "light-x4", "-bias", "wild"},
		{"-weights", filepath.Join(tinyDir, "tiny_x2", "weights.pth"), "-proj", "qkv"},
	} {
		if code, _, stderr := runCmd(t, append([]string{"info"}, args...)...); code == 0 || stderr == "" {
			t.Errorf("info %v: exit %d, stderr %q; want an error", args, code, stderr)
		}
	}
}

func TestInfo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "| grformer_light_x4.safetensors | x4 | 800412 | 29.83 | 26.94 | 26.66 |"},
		{[]string{"-weights", "shipped", "-scale", "2"}, "source       shipped x2"},
		{[]string{"-preset", "light-x2"}, "780,936"},
		{[]string{"-preset", "light-x3"}, "789,051"},
		{[]string{"-preset", "light-x4"}, "800,412"},
		{[]string{"-weights", filepath.Join(tinyDir, "tiny_x3", "weights.pth")}, "x3"},
		{[]string{"-preset", "light-x4"}, "| **total, with attention products** | 800,412 | 91.99 | 86.25 |"},
		{[]string{"-preset", "light-x4", "-out-size", "1280x720"}, "| **total, without attention products** | | 46.70 |"},
		{[]string{"-preset", "light-x2", "-size", "640x360"}, "| 780,936 | 363.15 | 340.46 |"},
		{[]string{"-preset", "light-x3"}, "| 789,051 | 170.41 | 152.27 |"},
		{[]string{"-preset", "light-x4", "-compare"}, "| qkv + table (SwinIR MSA) | 17,478 |"},
		{[]string{"-preset", "light-x4", "-proj", "qkv", "-bias", "cpb-log"}, "qkv projection, cpb-log position bias"},
	} {
		code, stdout, stderr := runCmd(t, append([]string{"info"}, tc.args...)...)
		if code != 0 || !strings.Contains(stdout, tc.want) {
			t.Errorf("info %v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}
