package service_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/service"
)

func TestCheckJSONText(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string // field "" means accepted
	}{
		{"plain", `{"content":"hello 👋"}`, ""},
		{"pair escape", `{"content":"\ud83d\udc4b"}`, ""},
		{"pair escape upper", `{"content":"\uD83D\uDC4B"}`, ""},
		{"escaped backslash", `{"content":"\\ud800"}`, ""},
		{"bmp escape", `{"content":"\u00e9\u0000"}`, ""},
		{"lone high", `{"content":"a\ud800b"}`, "content"},
		{"lone low", `{"content":"\udc00"}`, "content"},
		{"high then high", `{"content":"\ud800\ud800"}`, "content"},
		{"high at end", `{"content":"\ud83d"}`, "content"},
		{"second field", `{"client_id":"c1","name":"x\uDFFF"}`, "name"},
		{"invalid bytes", "{\"content\":\"a\xff\"}", "content"},
		{"truncated rune", "{\"content\":\"\xe2\x82\"}", "content"},
		{"encoded surrogate", "{\"content\":\"\xed\xa0\x80\"}", "content"},
		{"nested", `{"meta":{"note":"\udc00"}}`, "meta.note"},
		{"in array", `{"tags":["ok","\ud800"]}`, "tags"},
		{"bad key", `{"\ud800":"x"}`, "body"},
		{"outside strings", "{\"a\":1\xff}", "a"},
		{"top level string", `"\ud800"`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := service.CheckJSONText([]byte(tc.body))
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *service.ValidationError
			require.True(t, errors.As(err, &ve), "got %v", err)
			require.Equal(t, tc.field, ve.Field)
			require.Contains(t, ve.Message, "must be valid text")
		})
	}
}

// BenchmarkCheckJSONText measures the check on a typical message body (the
// hot path: valid text, no escapes).
func BenchmarkCheckJSONText(b *testing.B) {
	body := []byte(`{"content":"Can we ship the release on Friday? The migration is done and the tests pass 👍","client_id":"2f1c9a"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if service.CheckJSONText(body) != nil {
			b.Fatal("refused")
		}
	}
}
