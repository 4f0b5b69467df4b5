package httpapi

import "github.com/gofiber/fiber/v2"

// WebApp is the browser app (server/webui): its page and its assets.
type WebApp interface {
	// Page serves the app's HTML page.
	Page(c *fiber.Ctx) error
	// Asset serves a file under /app/ (the path is in c.Params("*")).
	Asset(c *fiber.Ctx) error
}

// webPages are the app's deep links: a reload of any of them serves the
// page, and the app routes to the view. They are not API routes, so they
// are not in the OpenAPI document.
var webPages = []string{"/rooms/:id", "/roles", "/keys", "/usage", "/login"}

// registerWeb serves the browser app when there is one. GET / is the
// root route (meta.go), which hands browsers to the app.
func (a *API) registerWeb() {
	if a.d.Web == nil {
		return
	}
	a.app.Get("/app/*", a.d.Web.Asset)
	for _, p := range webPages {
		a.app.Get(p, a.d.Web.Page)
	}
}
