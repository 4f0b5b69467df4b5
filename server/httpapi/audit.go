package httpapi

import "github.com/gofiber/fiber/v2"

// auditKey writes the audit line of a provider key change. The services
// of server/ai have no logger of their own; the line never holds the key.
func (a *API) auditKey(c *fiber.Ctx, action string, userID, keyID int64, provider string) {
	a.logger.With("component", "audit").InfoContext(c.UserContext(), "key changed",
		"action", action, "user_id", userID, "key_id", keyID, "provider", provider)
}
