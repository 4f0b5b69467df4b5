package service_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
)

func TestDeriveHandle(t *testing.T) {
	cases := map[string]string{
		"CTO":                      "cto",
		"Chief Technology Officer": "chief-technology-officer",
		"  Product -- Manager!! ":  "product-manager",
		"snake_case_ok":            "snake_case_ok",
		"Émile Zola":               "mile-zola",
		"🤖":                        "role",
		"":                         "role",
		strings.Repeat("ab ", 30):  "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab",
	}
	for name, want := range cases {
		got := service.DeriveHandle(name)
		require.Equal(t, want, got, "DeriveHandle(%q)", name)
		require.LessOrEqual(t, len(got), service.MaxHandleLen)
	}
}

func TestValidateRegister(t *testing.T) {
	ok := api.RegisterRequest{Email: "a.b+c@sub.example.org", Username: "a.b-c_d", Name: "", Password: "pässwörd"}
	require.NoError(t, service.ValidateRegister(ok))
	for _, email := range []string{"a@b", "@b.co", "a b@c.co", "a@b.co.", "<a@b.co>", strings.Repeat("a", 250) + "@b.co"} {
		r := ok
		r.Email = email
		require.Error(t, service.ValidateRegister(r), email)
	}
	r := ok
	r.Password = strings.Repeat("x", 73)
	var ve *service.ValidationError
	require.ErrorAs(t, service.ValidateRegister(r), &ve)
	require.Equal(t, "password", ve.Field)
}

func TestValidateMessage(t *testing.T) {
	require.NoError(t, service.ValidateMessage(api.CreateMessageRequest{Content: "x"}))
	require.NoError(t, service.ValidateMessage(api.CreateMessageRequest{Content: strings.Repeat("é", 8<<10)}))
	for _, req := range []api.CreateMessageRequest{
		{Content: ""},
		{Content: strings.Repeat("é", 8<<10) + "x"},
		{Content: "\xff"},
		{Content: "a\x00b"},
		{Content: "x", MessageType: "ai_response"},
		{Content: "x", ClientID: strings.Repeat("c", 129)},
	} {
		require.Error(t, service.ValidateMessage(req), "%q", req.Content)
	}
}
