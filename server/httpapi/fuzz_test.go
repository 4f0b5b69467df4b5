package httpapi

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
)

// FuzzDecodeAndValidate feeds arbitrary bodies through the request decoding
// and validation every handler uses: it must never panic, must fail only
// with a 400 (bad JSON) or a 422 naming a field (also for invalid text), and what passes must be
// valid UTF-8 within the limits.
func FuzzDecodeAndValidate(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.co","username":"alice","name":"A","password":"12345678"}`,
		`{"username":"alice","password":"x"}`,
		`{"name":"CTO","handle":"cto","temperature":0.5,"max_tokens":10,"ai_instructions":"be brief"}`,
		`{"content":"hello 👋","role_id":1,"client_id":"c1"}`,
		`{"name":"room"}`, `{"name":null}`, `[]`, `null`, `"str"`, `{"content":"\u0000"}`,
		`{"content":"\ud800"}`, `{"temperature":"hot"}`, `{`, ``, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, decodeErr, validateErr error) {
			var textErr *service.ValidationError
			if errors.As(decodeErr, &textErr) {
				validateErr, decodeErr = decodeErr, nil // invalid text: a 422 naming the field
			}
			if decodeErr != nil {
				var de *decodeError
				if !errors.As(decodeErr, &de) {
					t.Fatalf("%s: decode error of the wrong type: %T %v", what, decodeErr, decodeErr)
				}
				if status, _ := classify(decodeErr); status != 400 {
					t.Fatalf("%s: decode error maps to %d", what, status)
				}
				return
			}
			if validateErr == nil {
				return
			}
			var ve *service.ValidationError
			if !errors.As(validateErr, &ve) || ve.Field == "" {
				t.Fatalf("%s: validation error without a field: %T %v", what, validateErr, validateErr)
			}
			if status, e := classify(validateErr); status != 422 || e.Field != ve.Field {
				t.Fatalf("%s: validation error maps to %d %+v", what, status, e)
			}
		}
		var reg api.RegisterRequest
		err := decodeJSON(body, &reg)
		check("register", err, service.ValidateRegister(reg))
		if err == nil && service.ValidateRegister(reg) == nil {
			if !utf8.ValidString(reg.Name) || len(reg.Password) > service.MaxPasswordBytes {
				t.Fatalf("register accepted %+v", reg)
			}
		}
		var role api.CreateRoleRequest
		err = decodeJSON(body, &role)
		check("create role", err, service.ValidateCreateRole(role))
		var upd api.UpdateRoleRequest
		err = decodeJSON(body, &upd)
		check("update role", err, service.ValidateUpdateRole(upd))
		var room api.CreateRoomRequest
		err = decodeJSON(body, &room)
		check("create room", err, service.ValidateRoomName(room.Name))
		var msg api.CreateMessageRequest
		err = decodeJSON(body, &msg)
		verr := service.ValidateMessage(msg)
		check("create message", err, verr)
		if err == nil && verr == nil {
			if msg.Content == "" || len(msg.Content) > service.MaxMessageBytes || !utf8.ValidString(msg.Content) {
				t.Fatalf("message accepted: %q", msg.Content)
			}
		}
		if h := service.DeriveHandle(role.Name); h == "" || len(h) > service.MaxHandleLen {
			t.Fatalf("DeriveHandle(%q) = %q", role.Name, h)
		}
	})
}
