package service_test

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
)

// FuzzDecodeValidate decodes arbitrary bodies into every request type the
// way the handlers do and validates them: no panic, failures are
// *ValidationError naming a field, and what passes is within the limits.
// (server/httpapi has the same target over its decoder and error mapping;
// this one builds without the HTTP and AI dependencies, so CI can fuzz it
// quickly.)
func FuzzDecodeValidate(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.co","username":"alice","name":"A","password":"12345678"}`,
		`{"name":"CTO","handle":"cto","temperature":0.5,"max_tokens":10,"ai_instructions":"be brief"}`,
		`{"content":"hello 👋","role_id":1,"client_id":"c1"}`,
		`{"name":"room"}`, `{"content":"\u0000"}`, `{"content":"\ud800"}`, `{"temperature":1e309}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		field := func(what string, err error) {
			if err == nil {
				return
			}
			var ve *service.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("%s: %T %v is not a validation error with a field", what, err, err)
			}
		}
		field("raw text", service.CheckJSONText(body))
		var reg api.RegisterRequest
		if json.Unmarshal(body, &reg) == nil {
			err := service.ValidateRegister(reg)
			field("register", err)
			if err == nil && (len(reg.Password) > service.MaxPasswordBytes || utf8.RuneCountInString(reg.Name) > service.MaxNameLen) {
				t.Fatalf("register accepted %+v", reg)
			}
		}
		var role api.CreateRoleRequest
		if json.Unmarshal(body, &role) == nil {
			field("create role", service.ValidateCreateRole(role))
			if h := service.DeriveHandle(role.Name); h == "" || len(h) > service.MaxHandleLen {
				t.Fatalf("DeriveHandle(%q) = %q", role.Name, h)
			}
		}
		var upd api.UpdateRoleRequest
		if json.Unmarshal(body, &upd) == nil {
			field("update role", service.ValidateUpdateRole(upd))
		}
		var room api.CreateRoomRequest
		if json.Unmarshal(body, &room) == nil {
			field("room", service.ValidateRoomName(room.Name))
		}
		var msg api.CreateMessageRequest
		if json.Unmarshal(body, &msg) == nil {
			err := service.ValidateMessage(msg)
			field("message", err)
			if err == nil && (msg.Content == "" || len(msg.Content) > service.MaxMessageBytes || !utf8.ValidString(msg.Content)) {
				t.Fatalf("message accepted: %q", msg.Content)
			}
		}
	})
}
