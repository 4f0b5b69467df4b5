package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ExportRoom copies a room's full history to w, oldest first, in format
// "jsonl" (one api.ExportedMessage per line: messages, AI replies with model
// and usage) or "markdown" (GET /api/rooms/{id}/export).
func (c *Client) ExportRoom(ctx context.Context, roomID int64, format string, w io.Writer) error {
	path := fmt.Sprintf("/api/rooms/%d/export", roomID)
	req, err := c.newRequest(ctx, http.MethodGet, path, url.Values{"format": {format}}, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}
