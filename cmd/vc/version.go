package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client/call/audio"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// versionInfo is what `vc version --json` prints.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	// AudioDevices says whether this build can use a microphone and a
	// speaker (cgo builds only).
	AudioDevices bool `json:"audio_devices"`
}

func currentVersion() versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, AudioDevices: audio.DeviceAudioAvailable}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v.Commit = s.Value[:12]
			}
		}
	}
	return v
}

// line is what vc version and vc --version print.
func (v versionInfo) line() string {
	commit := ""
	if v.Commit != "" {
		commit = " " + v.Commit
	}
	devices := "microphone and speaker"
	if !v.AudioDevices {
		devices = "no microphone or speaker: built without cgo"
	}
	return fmt.Sprintf("vc %s%s (%s %s/%s; calls: %s)", v.Version, commit, v.Go, v.OS, v.Arch, devices)
}

func newVersionCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print vc's version",
		Example: `  vc version
  vc version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion()
			if o.enabled() {
				return a.writeJSON(&o, v, false)
			}
			_, err := fmt.Fprintln(a.out, v.line())
			return err
		},
	}
	addOutputFlags(cmd, &o, versionInfo{})
	return cmd
}
