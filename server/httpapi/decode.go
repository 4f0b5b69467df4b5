package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/server/service"
)

// decodeJSON decodes a request body into v. Unknown fields are ignored;
// anything that is not one JSON value of the right shape is a *decodeError,
// and invalid text (bad UTF-8, lone surrogate escapes) a
// *service.ValidationError.
// Strings are copied out of Fiber's buffer by encoding/json.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &decodeError{msg: "the body is empty"}
	}
	// Decoding would store invalid text as U+FFFD; refuse it instead (422
	// naming the field).
	if err := service.CheckJSONText(body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &decodeError{msg: fmt.Sprintf("field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))}
		}
		return &decodeError{msg: err.Error()}
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	}
	return "an object"
}

// pathID parses an integer path parameter; a non-integer or non-positive id
// names nothing, so it is a 404.
func pathID(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, service.NotFound("Not Found")
	}
	return id, nil
}

// queryInt parses an optional integer query parameter (def when absent).
func queryInt(c *fiber.Ctx, name string, def int64) (int64, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, service.Invalid(name, "must be an integer")
	}
	return v, nil
}
