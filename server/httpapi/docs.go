package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/virtual-company/vc/pkg/api"
)

// docsOp is one operation as the /docs page shows it.
type docsOp struct {
	Method, Path, Summary, ID string
	Auth                      bool
	Params                    []docsParam
	Body                      string // example JSON of the request body
	Responses                 []docsResponse
}

type docsParam struct{ Name, In, Type, Description string }

type docsResponse struct{ Status, Description, Example string }

type docsTag struct {
	Name string
	Ops  []docsOp
}

// renderDocs builds the self-contained /docs page from the OpenAPI document:
// every path, method, parameter and schema, plus a small inline "try it"
// client (no external scripts; none could load here).
func renderDocs(spec []byte) ([]byte, error) {
	var doc struct {
		Info       struct{ Title, Version, Description string }
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas map[string]any
		}
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("docs: decode openapi: %w", err)
	}
	ex := exampler{defs: doc.Components.Schemas}
	tags := map[string]*docsTag{}
	var order []string
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			raw, ok := doc.Paths[p][method]
			if !ok {
				continue
			}
			var op struct {
				Summary     string
				OperationID string `json:"operationId"`
				Tags        []string
				Security    []any
				Parameters  []struct {
					Name, In, Description string
					Schema                struct{ Type string }
				}
				RequestBody *struct {
					Content map[string]struct{ Schema any }
				} `json:"requestBody"`
				Responses map[string]struct {
					Description string
					Content     map[string]struct{ Schema any }
				}
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("docs: decode %s %s: %w", method, p, err)
			}
			d := docsOp{Method: strings.ToUpper(method), Path: p, Summary: op.Summary, ID: op.OperationID, Auth: len(op.Security) > 0}
			for _, prm := range op.Parameters {
				d.Params = append(d.Params, docsParam{prm.Name, prm.In, prm.Schema.Type, prm.Description})
			}
			if op.RequestBody != nil {
				if c, ok := op.RequestBody.Content["application/json"]; ok {
					d.Body = ex.json(c.Schema)
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				r := op.Responses[code]
				resp := docsResponse{Status: code, Description: r.Description}
				if c, ok := r.Content["application/json"]; ok {
					resp.Example = ex.json(c.Schema)
				}
				d.Responses = append(d.Responses, resp)
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if tags[tag] == nil {
				tags[tag] = &docsTag{Name: tag}
				order = append(order, tag)
			}
			tags[tag].Ops = append(tags[tag].Ops, d)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return tagRank(order[i]) < tagRank(order[j]) })
	data := struct {
		Title, Version, Description string
		Tags                        []*docsTag
	}{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	for _, t := range order {
		data.Tags = append(data.Tags, tags[t])
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("docs: render: %w", err)
	}
	return buf.Bytes(), nil
}

func tagRank(t string) int {
	for i, name := range []string{"auth", "rooms", "messages", "roles", "llm", "meta", "websocket"} {
		if t == name {
			return i
		}
	}
	return 100
}

// exampler renders an example value of a JSON schema.
type exampler struct{ defs map[string]any }

func (e exampler) json(schema any) string {
	b, err := json.MarshalIndent(e.value(schema, 0), "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

func (e exampler) value(schema any, depth int) any {
	s, _ := schema.(map[string]any)
	if s == nil || depth > 6 {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		return e.value(e.defs[strings.TrimPrefix(ref, "#/components/schemas/")], depth+1)
	}
	if all, ok := s["allOf"].([]any); ok && len(all) > 0 {
		return e.value(all[0], depth+1)
	}
	switch s["type"] {
	case "object":
		props, _ := s["properties"].(map[string]any)
		out := map[string]any{}
		for k, v := range props {
			out[k] = e.value(v, depth+1)
		}
		return out
	case "array":
		return []any{e.value(s["items"], depth+1)}
	case "string":
		if s["format"] == "date-time" {
			return "2025-01-01T00:00:00Z"
		}
		return "string"
	case "integer":
		return 0
	case "number":
		return 0.0
	case "boolean":
		return false
	}
	return nil
}

// landingPage is the HTML answer of GET / for browsers.
func landingPage(info api.Root) string {
	var buf bytes.Buffer
	_ = landingTemplate.Execute(&buf, info)
	return buf.String()
}

var landingTemplate = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Virtual Company</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{background:#eee;padding:.1em .3em}</style>
</head><body><h1>{{.Message}}</h1><p>vcd {{.Version}} is running.</p>
<ul><li><a href="{{.Docs}}">API documentation</a></li><li><a href="/openapi.json">OpenAPI document</a></li><li><a href="/health">Health</a></li></ul>
<p>Talk to it with <code>vc</code>: <code>vc login --server http://this-host</code>, then <code>vc chat</code>.</p>
</body></html>`))

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#1d2b3a;color:#fff;padding:1em 2em}header small{opacity:.7}
main{max-width:70em;margin:0 auto;padding:1em 2em}
h2{text-transform:capitalize;border-bottom:1px solid #ccc;padding-bottom:.2em}
details{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.5em 0}
summary{cursor:pointer;padding:.6em;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.5em;text-align:center;border-radius:4px;color:#fff;font-weight:bold;margin-right:.6em}
.GET{background:#2f7bd9}.POST{background:#2e9e5b}.PATCH{background:#c9891c}.DELETE{background:#c8453b}.PUT{background:#8a5cc2}
.s{font-family:system-ui,sans-serif;color:#555;margin-left:.6em}.lock{color:#a66}
.body{padding:0 1em 1em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}
pre{background:#f3f3f3;padding:.6em;overflow:auto;max-height:25em}textarea{width:100%;font-family:ui-monospace,monospace}
input{font-family:ui-monospace,monospace}.out{white-space:pre-wrap}
</style></head><body>
<header><h1>{{.Title}} <small>{{.Version}}</small></h1><p>{{.Description}} The raw document is at <a style="color:#9cf" href="/openapi.json">/openapi.json</a>.</p>
<label>Bearer token: <input id="token" size="60" placeholder="paste an access_token (POST /api/auth/login)"></label></header>
<main>
{{range .Tags}}<h2>{{.Name}}</h2>
{{range .Ops}}<details id="{{.ID}}"><summary><span class="m {{.Method}}">{{.Method}}</span>{{.Path}}<span class="s">{{.Summary}}</span>{{if .Auth}} <span class="lock" title="needs a bearer token">&#128274;</span>{{end}}</summary>
<div class="body" data-method="{{.Method}}" data-path="{{.Path}}">
{{if .Params}}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th><th>value</th></tr>
{{range .Params}}<tr><td>{{.Name}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Description}}</td><td><input data-in="{{.In}}" data-name="{{.Name}}"></td></tr>{{end}}</table>{{end}}
{{if .Body}}<h4>Request body</h4><textarea rows="8" class="req">{{.Body}}</textarea>{{end}}
<h4>Responses</h4>{{range .Responses}}<p><b>{{.Status}}</b> {{.Description}}</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}
<button onclick="tryIt(this)">Send</button><pre class="out"></pre>
</div></details>{{end}}{{end}}
</main>
<script>
const tok=document.getElementById('token');tok.value=localStorage.getItem('vc_token')||'';
tok.onchange=()=>localStorage.setItem('vc_token',tok.value);
async function tryIt(btn){const d=btn.parentElement;let path=d.dataset.path;const q=new URLSearchParams();
for(const i of d.querySelectorAll('input[data-in]')){if(!i.value)continue;
if(i.dataset.in==='path')path=path.replace('{'+i.dataset.name+'}',encodeURIComponent(i.value));else q.set(i.dataset.name,i.value);}
const h={'Accept':'application/json'};if(tok.value)h['Authorization']='Bearer '+tok.value;
const ta=d.querySelector('textarea.req');let body;if(ta){body=ta.value;h['Content-Type']='application/json';}
const out=d.querySelector('.out');out.textContent='...';
try{const r=await fetch(path+(q.toString()?'?'+q:''),{method:d.dataset.method,headers:h,body});
const t=await r.text();let s=t;try{s=JSON.stringify(JSON.parse(t),null,2)}catch(e){}
out.textContent=r.status+' '+r.statusText+'\n'+s;
if(path==='/api/auth/login'&&r.ok){tok.value=JSON.parse(t).access_token;tok.onchange();}}catch(e){out.textContent=String(e)}}
</script></body></html>`))
