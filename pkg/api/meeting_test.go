package api

import (
	"encoding/json"
	"testing"
)

func TestRoleRef_JSON(t *testing.T) {
	var req StartMeetingRequest
	if err := json.Unmarshal([]byte(`{"topic":"t","roles":[3,"@pm","cto","12"],"chair":"pm"}`), &req); err != nil {
		t.Fatal(err)
	}
	want := []RoleRef{{ID: 3}, {Handle: "pm"}, {Handle: "cto"}, {ID: 12}}
	if len(req.Roles) != len(want) {
		t.Fatalf("roles = %v", req.Roles)
	}
	for i := range want {
		if req.Roles[i] != want[i] {
			t.Errorf("roles[%d] = %+v, want %+v", i, req.Roles[i], want[i])
		}
	}
	if req.Chair == nil || *req.Chair != (RoleRef{Handle: "pm"}) {
		t.Errorf("chair = %+v", req.Chair)
	}
	b, err := json.Marshal(StartMeetingRequest{Topic: "t", Roles: []RoleRef{RoleByID(3), RoleByHandle("@pm")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"topic":"t","roles":[3,"pm"]}` {
		t.Errorf("marshal = %s", got)
	}
	if err := json.Unmarshal([]byte(`{"roles":[true]}`), &req); err == nil {
		t.Error("a boolean role was accepted")
	}
}
