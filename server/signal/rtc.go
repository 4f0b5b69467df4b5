package signal

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
)

// ICEConfig returns the ICE servers a user should use: the configured STUN
// servers, and the TURN servers with time-limited credentials when a TURN
// secret is configured. The credentials follow the TURN REST API convention
// (coturn's use-auth-secret): username "expiry:userid" and credential
// base64(HMAC-SHA1(secret, username)).
func ICEConfig(cfg config.RTCConfig, userID int64, now time.Time) api.RTCConfig {
	out := api.RTCConfig{ICEServers: []api.ICEServer{}}
	if len(cfg.STUNURLs) > 0 {
		out.ICEServers = append(out.ICEServers, api.ICEServer{URLs: append([]string(nil), cfg.STUNURLs...)})
	}
	if len(cfg.TURNURLs) > 0 && cfg.TURNSecret != "" {
		ttl := cfg.TURNTTL
		if ttl <= 0 {
			ttl = 12 * time.Hour
		}
		expires := now.Add(ttl).Truncate(time.Second).UTC()
		username := strconv.FormatInt(expires.Unix(), 10) + ":" + strconv.FormatInt(userID, 10)
		out.ICEServers = append(out.ICEServers, api.ICEServer{
			URLs:       append([]string(nil), cfg.TURNURLs...),
			Username:   username,
			Credential: TURNCredential(cfg.TURNSecret, username),
		})
		out.ExpiresAt = expires
	}
	return out
}

// TURNCredential is base64(HMAC-SHA1(secret, username)).
func TURNCredential(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
