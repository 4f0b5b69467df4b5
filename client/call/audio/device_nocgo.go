//go:build !cgo

package audio

import "fmt"

// DeviceAudioAvailable reports whether this build can open audio devices.
const DeviceAudioAvailable = false

// OpenMic fails: device audio needs a cgo build (malgo).
func OpenMic(DeviceOptions) (Source, error) {
	return nil, fmt.Errorf("%w: this vc was built without cgo; use --input FILE.wav|tone:HZ|null", ErrDeviceUnavailable)
}

// OpenSpeaker fails: device audio needs a cgo build (malgo).
func OpenSpeaker(DeviceOptions) (Sink, error) {
	return nil, fmt.Errorf("%w: this vc was built without cgo; use --output FILE.wav|null", ErrDeviceUnavailable)
}
