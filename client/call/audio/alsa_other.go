//go:build cgo && !linux

package audio

// silenceAudioLogs does nothing: only Linux's ALSA library writes its own
// messages to stderr.
func silenceAudioLogs() {}
