//go:build cgo && linux

package audio

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

// vcALSASilent drops a message of ALSA's library. Without a sound card,
// opening the default device makes libasound print some 36 lines of
// "ALSA lib ..." to stderr before miniaudio reports one error that vc turns
// into a single useful line.
static void vcALSASilent(const char *file, int line, const char *function, int err, const char *fmt, ...) {}

// vcSilenceALSA installs vcALSASilent as libasound's error handler.
// miniaudio loads libasound at run time, so it is loaded the same way here;
// the handle is kept open so that miniaudio's dlopen gets the same instance
// with the handler installed. It returns 0 when libasound is not there.
static int vcSilenceALSA(void) {
	void *h = dlopen("libasound.so.2", RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		h = dlopen("libasound.so", RTLD_NOW | RTLD_GLOBAL);
	}
	if (h == NULL) {
		return 0;
	}
	int (*set)(void *) = (int (*)(void *))dlsym(h, "snd_lib_error_set_handler");
	if (set == NULL) {
		return 0;
	}
	set((void *)vcALSASilent);
	return 1;
}
*/
import "C"

import "sync"

var silenceALSAOnce sync.Once

// silenceAudioLogs keeps the system audio library from writing to stderr
// (vc reports device errors itself, in one line).
func silenceAudioLogs() {
	silenceALSAOnce.Do(func() { C.vcSilenceALSA() })
}
