package call

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// AddSecondTrack adds another (silent) audio track to the peer connection
// with peerID, which makes it renegotiate (tests use it to force
// simultaneous offers).
func (k *Call) AddSecondTrack(peerID string) error {
	r := k.remote(peerID)
	if r == nil {
		return fmt.Errorf("no peer %s", peerID)
	}
	tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "second", "vc-second")
	if err != nil {
		return err
	}
	_, err = r.pc.AddTrack(tr)
	return err
}

// Offers returns how many offers we sent to peerID.
func (k *Call) Offers(peerID string) int64 {
	r := k.remote(peerID)
	if r == nil {
		return 0
	}
	return r.offers.Load()
}

// Negotiated reports whether the connection with peerID is stable with at
// least n transceivers that all have a negotiated mid, and no negotiation
// pending.
func (k *Call) Negotiated(peerID string, n int) bool {
	r := k.remote(peerID)
	if r == nil {
		return false
	}
	r.neg.Lock()
	defer r.neg.Unlock()
	if r.pc.SignalingState() != webrtc.SignalingStateStable || r.renegotiate || r.makingOffer {
		return false
	}
	ts := r.pc.GetTransceivers()
	if len(ts) < n {
		return false
	}
	for _, t := range ts {
		if t.Mid() == "" {
			return false
		}
	}
	return true
}

// NegotiationState describes the connection with peerID for test failures.
func (k *Call) NegotiationState(peerID string) string {
	r := k.remote(peerID)
	if r == nil {
		return "no peer"
	}
	r.neg.Lock()
	defer r.neg.Unlock()
	out := fmt.Sprintf("%s polite=%v making=%v reneg=%v:", r.pc.SignalingState(), r.polite, r.makingOffer, r.renegotiate)
	for _, t := range r.pc.GetTransceivers() {
		out += fmt.Sprintf(" [mid=%q dir=%s cur=%s]", t.Mid(), t.Direction(), t.Direction())
	}
	return out
}
