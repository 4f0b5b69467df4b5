package service

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/virtual-company/vc/pkg/api"
)

// Limits enforced by validation.
const (
	MaxNameLen           = 100      // characters, for user, role and room names
	MaxMessageBytes      = 16 << 10 // message content
	MaxInstructionsBytes = 32 << 10 // role ai_instructions
	MaxDescriptionBytes  = 8 << 10  // role description
	MaxAvatarBytes       = 2 << 10  // role avatar (an emoji or a URL)
	MaxModelLen          = 200      // role model id
	MaxClientIDLen       = 128      // message client_id
	MaxEmailLen          = 254
	MinPasswordLen       = 8  // characters
	MaxPasswordBytes     = 72 // bcrypt's limit
	MaxHandleLen         = 32
)

// usernameRe is the only shape of a username.
var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

// handleRe is the only shape of a role handle.
var handleRe = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidateRegister checks a registration request.
func ValidateRegister(req api.RegisterRequest) error {
	if err := validateEmail(req.Email); err != nil {
		return err
	}
	if !usernameRe.MatchString(req.Username) {
		return Invalid("username", "must be 3 to 32 characters of letters, digits, '_', '.' or '-'")
	}
	if err := validateText("name", req.Name, false, MaxNameLen); err != nil {
		return err
	}
	return validatePassword("password", req.Password)
}

// validatePassword is the rule for a new password (registration and
// password change).
func validatePassword(field, pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return Invalid(field, "must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordBytes {
		return Invalid(field, "must be at most %d bytes", MaxPasswordBytes)
	}
	if !utf8.ValidString(pw) {
		return Invalid(field, "must be valid UTF-8")
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return Invalid("email", "is required")
	}
	if len(email) > MaxEmailLen {
		return Invalid("email", "must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return Invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.ContainsAny(email, " \t\r\n\"()<>[]\\,;:") {
		return Invalid("email", "is not a valid email address")
	}
	return nil
}

// validateText checks a free-text field: valid UTF-8, no NUL, at most max
// characters, and non-blank when required.
func validateText(field, s string, required bool, maxChars int) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "must be valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Invalid(field, "must not contain NUL characters")
	}
	if required && strings.TrimSpace(s) == "" {
		return Invalid(field, "is required")
	}
	if utf8.RuneCountInString(s) > maxChars {
		return Invalid(field, "must be at most %d characters", maxChars)
	}
	return nil
}

// validateBytes is validateText with a limit in bytes.
func validateBytes(field, s string, required bool, maxBytes int) error {
	if len(s) > maxBytes {
		return Invalid(field, "must be at most %d bytes", maxBytes)
	}
	return validateText(field, s, required, maxBytes)
}

// ValidateRoomName checks a room name.
func ValidateRoomName(name string) error { return validateText("name", name, true, MaxNameLen) }

// ValidateCreateRole checks a role creation request (after handle
// normalisation).
func ValidateCreateRole(req api.CreateRoleRequest) error {
	if err := validateText("name", req.Name, true, MaxNameLen); err != nil {
		return err
	}
	return validateRoleFields(&req.Avatar, &req.Description, &req.AIInstructions, handlePtr(req.Handle), &req.Model, req.Temperature, req.MaxTokens)
}

// ValidateUpdateRole checks a role update request.
func ValidateUpdateRole(req api.UpdateRoleRequest) error {
	if req.Name != nil {
		if err := validateText("name", *req.Name, true, MaxNameLen); err != nil {
			return err
		}
	}
	return validateRoleFields(req.Avatar, req.Description, req.AIInstructions, req.Handle, req.Model, req.Temperature, req.MaxTokens)
}

func handlePtr(h string) *string {
	if h == "" {
		return nil
	}
	return &h
}

func validateRoleFields(avatar, description, instructions, handle, model *string, temperature *float64, maxTokens *int) error {
	if avatar != nil {
		if err := validateBytes("avatar", *avatar, false, MaxAvatarBytes); err != nil {
			return err
		}
	}
	if description != nil {
		if err := validateBytes("description", *description, false, MaxDescriptionBytes); err != nil {
			return err
		}
	}
	if instructions != nil {
		if err := validateBytes("ai_instructions", *instructions, false, MaxInstructionsBytes); err != nil {
			return err
		}
	}
	if handle != nil && !handleRe.MatchString(normalizeHandle(*handle)) {
		return Invalid("handle", "must be 1 to %d characters of a-z, 0-9, '_' or '-'", MaxHandleLen)
	}
	if model != nil {
		if err := validateText("model", *model, false, MaxModelLen); err != nil {
			return err
		}
	}
	if temperature != nil && (*temperature < 0 || *temperature > 2 || *temperature != *temperature) {
		return Invalid("temperature", "must be between 0 and 2")
	}
	if maxTokens != nil && (*maxTokens < 1 || *maxTokens > 1_000_000) {
		return Invalid("max_tokens", "must be between 1 and 1000000")
	}
	return nil
}

// normalizeHandle lowercases an explicit handle (and strips a leading @).
func normalizeHandle(h string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "@"))
}

// DeriveHandle turns a role name into a handle: lowercase, runs of other
// characters become one '-', at most MaxHandleLen characters, "role" when
// nothing is left.
func DeriveHandle(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
		if b.Len() >= MaxHandleLen {
			break
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > MaxHandleLen {
		h = strings.Trim(h[:MaxHandleLen], "-")
	}
	if h == "" {
		return "role"
	}
	return h
}

// ValidateMessage checks a message sent by a person.
func ValidateMessage(req api.CreateMessageRequest) error {
	if req.Content == "" {
		return Invalid("content", "must not be empty")
	}
	if len(req.Content) > MaxMessageBytes {
		return Invalid("content", "must be at most %d bytes", MaxMessageBytes)
	}
	if !utf8.ValidString(req.Content) {
		return Invalid("content", "must be valid UTF-8")
	}
	// PostgreSQL text cannot hold NUL; refuse it on every database alike.
	if strings.IndexByte(req.Content, 0) >= 0 {
		return Invalid("content", "must not contain NUL characters")
	}
	switch req.MessageType {
	case "", api.MessageText:
	default:
		return Invalid("message_type", "must be %q", api.MessageText)
	}
	if len(req.ClientID) > MaxClientIDLen || !utf8.ValidString(req.ClientID) {
		return Invalid("client_id", "must be at most %d bytes of UTF-8", MaxClientIDLen)
	}
	if len(req.Model) > MaxModelLen {
		return Invalid("model", "must be at most %d characters", MaxModelLen)
	}
	return nil
}
