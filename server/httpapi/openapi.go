package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/api"
)

// fiberParam matches a Fiber path parameter (:id).
var fiberParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPIPath converts /api/rooms/:id to /api/rooms/{id}.
func openAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// buildOpenAPI generates the OpenAPI 3 document of the routes. Schemas come
// from the pkg/api types by reflection, so the document cannot drift from
// the wire types or miss a route.
func buildOpenAPI(rs []route, version string) ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, r := range rs {
		p := openAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"summary":     r.Doc.Summary,
			"operationId": operationID(r.Method, p),
		}
		if r.Doc.Tag != "" {
			op["tags"] = []string{r.Doc.Tag}
		}
		var params []any
		for _, m := range fiberParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "integer", "format": "int64"}})
		}
		for _, q := range r.Doc.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": q.Type}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.Auth {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		if r.Doc.Body != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Doc.Body))}},
			}
		}
		status := r.Doc.Status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case r.Doc.ContentType != "":
			ok["content"] = map[string]any{r.Doc.ContentType: map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.Doc.Out != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Doc.Out))}}
		}
		responses := map[string]any{fmt.Sprint(status): ok}
		errSchema := g.schema(reflect.TypeOf(api.Error{}))
		for _, e := range r.Doc.Errors {
			responses[fmt.Sprint(e)] = map[string]any{
				"description": http.StatusText(e),
				"content":     map[string]any{"application/json": map[string]any{"schema": errSchema}},
			}
		}
		op["responses"] = responses
		paths[p][strings.ToLower(r.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Virtual Company API (vcd)",
			"version":     version,
			"description": "REST API of vcd. Errors are {\"detail\", \"code\"?, \"field\"?}. Every path also works with a trailing slash.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return b, nil
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' || r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaGen turns Go types into JSON schemas, named structs into
// components/schemas references.
type schemaGen struct {
	defs map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

// roleRefType is api.RoleRef: a role id (number) or handle (string) on the wire.
var roleRefType = reflect.TypeOf(api.RoleRef{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == roleRefType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "integer", "format": "int64", "description": "role id"},
			map[string]any{"type": "string", "description": "role handle, with or without @"},
		}}
	case t.Kind() == reflect.Pointer:
		s := g.schema(t.Elem())
		if _, isRef := s["$ref"]; isRef {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16:
		f := "int64"
		if t.Kind() == reflect.Int32 || t.Kind() == reflect.Uint16 {
			f = "int32"
		}
		return map[string]any{"type": "integer", "format": f}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{} // json.RawMessage: any JSON value
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map, reflect.Interface:
		return map[string]any{"type": "object"}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.structSchema(t)
		}
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder for recursion
			g.defs[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		// Request bodies are lenient (missing fields are validated by the
		// server); responses always carry fields without omitempty.
		if !strings.HasSuffix(t.Name(), "Request") && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
