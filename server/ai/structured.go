package ai

import (
	"context"
	"encoding/json"
)

// StructuredRequest asks a provider for one JSON object that follows a
// JSON schema (a meeting chair's decision, a meeting's minutes): tool use
// forced to one tool on Anthropic, a json_schema response format on
// OpenAI-compatible providers. It is not streamed.
type StructuredRequest struct {
	ChatRequest
	// Name names the tool or schema ([a-zA-Z0-9_-]).
	Name        string
	Description string
	// Schema is the JSON schema of the object (type object, with
	// properties, required and additionalProperties false, so that it
	// suits OpenAI's strict mode too).
	Schema map[string]any
}

// StructuredProvider is a Provider that answers structured requests. The
// built-in providers implement it.
type StructuredProvider interface {
	// Structured returns the object the model produced (not validated
	// against the schema: the caller checks it) and the call's usage.
	// Errors are *Error values.
	Structured(ctx context.Context, cred Credentials, req StructuredRequest) (json.RawMessage, Usage, error)
}
