package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// TestMessages_InvalidTextRefused: invalid UTF-8 and lone surrogate escapes
// are refused with 422 naming the field, not stored as U+FFFD.
func TestMessages_InvalidTextRefused(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a := e.Register("alice")
		r := e.room(a.Token, "text")
		path := fmt.Sprintf("/api/rooms/%d/messages", r.ID)
		for _, body := range []string{
			"{\"content\":\"bad \xff byte\"}",
			"{\"content\":\"\xed\xa0\x80\"}", // a surrogate encoded in UTF-8
			`{"content":"lone \ud800 high"}`,
			`{"content":"lone \udc00 low"}`,
		} {
			ae := e.fail("POST", path, a.Token, []byte(body), 422)
			require.Equal(t, "content", ae.Field, body)
			require.Equal(t, api.CodeValidation, ae.Code)
		}
		ae := e.fail("POST", path, a.Token, []byte(`{"content":"ok","client_id":"\ud800"}`), 422)
		require.Equal(t, "client_id", ae.Field)
		require.Empty(t, e.history(a.Token, r.ID, ""), "nothing stored")

		// A real pair escape is one character and is kept.
		var m api.Message
		e.call("POST", path, a.Token, []byte(`{"content":"wave \ud83d\udc4b"}`), 201, &m)
		require.Equal(t, "wave 👋", m.Content)

		// Other bodies too: room names, registration.
		require.Equal(t, "name", e.fail("POST", "/api/rooms", a.Token, []byte(`{"name":"x\udfff"}`), 422).Field)
		require.Equal(t, "name", e.fail("POST", "/api/auth/register", "",
			[]byte("{\"email\":\"b@b.co\",\"username\":\"bob\",\"name\":\"B\xc3\",\"password\":\"12345678\"}"), 422).Field)
	})
}
