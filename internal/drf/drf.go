// Package drf reads a request body as Django REST Framework does for
// simplejwt's views, so that jwtpair answers every body as simplejwt
// would: the parser chosen by the Content-Type (DRF 3.14's JSONParser,
// FormParser, MultiPartParser, in that order, matched as its
// media_type_matches does), the values each parser makes (Python's json
// module, Django's QueryDict and multipart parser), the text of every
// refusal (415, parse errors, a body that is not an object), and the
// validation of a serializers.CharField (trimming, "This field may not be
// blank.", …).
//
// The reference is what Debian runs simplejwt on: DRF 3.14, Django 3.2,
// Python 3.11. compat's TestPythonParity checks this package against that
// Python, input by input.
//
// Error texts carry no package prefix: they are what clients read.
package drf

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"strings"
	"unicode"
)

// Kind is the Python type of a request datum.
type Kind uint8

// The kinds of Value.
const (
	Missing Kind = iota // the field is not in the body (DRF's empty)
	Null                // None
	Bool                // bool
	Int                 // int
	Float               // float
	String              // str
	List                // list
	Dict                // dict
	File                // an uploaded file (multipart)
)

// pyTypeNames are the type(data).__name__ of each kind.
var pyTypeNames = [...]string{Null: "NoneType", Bool: "bool", Int: "int", Float: "float", String: "str", List: "list", Dict: "dict", File: "InMemoryUploadedFile"}

// Value is one datum of a parsed body.
type Value struct {
	Kind Kind
	// Text is str(value) for Bool, Int, Float, String and File (its name).
	// A String holds U+FFFD where Python's str holds a lone surrogate
	// (from a \u escape).
	Text string
	// Surrogate is the first lone surrogate of a String, 0 if none.
	Surrogate rune
	// Dict holds the members of a top-level object, the last of a
	// repeated key (Python's dict); nested objects are not kept.
	Dict map[string]Value
}

// Data is a parsed body: what DRF's request.data gives a serializer.
type Data struct {
	top    Value              // a JSON body: the document
	fields map[string][]Value // a form or multipart body: every value of every key, files after fields
	form   bool               // fields, not top, holds the body
}

// Get returns the value a serializer field named name reads: the member
// of a JSON object, or the last value of a form key (QueryDict.__getitem__;
// in a multipart body files come after fields).
func (d *Data) Get(name string) Value {
	if d.form {
		if vs := d.fields[name]; len(vs) > 0 {
			return vs[len(vs)-1]
		}
		return Value{}
	}
	if v, ok := d.top.Dict[name]; ok {
		return v
	}
	return Value{}
}

// UnsupportedMediaTypeError is DRF's UnsupportedMediaType (415) for the
// Content-Type header as sent ("" when absent).
type UnsupportedMediaTypeError struct{ ContentType string }

// Error is the response's detail text.
func (e *UnsupportedMediaTypeError) Error() string {
	return `Unsupported media type "` + e.ContentType + `" in request.`
}

// ParseError is DRF's ParseError (400 {"detail": Detail}).
type ParseError struct{ Detail string }

func (e *ParseError) Error() string { return e.Detail }

// NotAnObjectError is a JSON body that is not an object, which a
// serializer refuses with 400 {"non_field_errors": [Message]}.
type NotAnObjectError struct{ Message string }

func (e *NotAnObjectError) Error() string { return e.Message }

// Parse reads body, sent with the Content-Type header contentType (""
// when there is none), as DRF's request.data. An empty body is no fields,
// whatever its type.
func Parse(contentType string, body []byte) (*Data, error) {
	if len(body) == 0 {
		return &Data{}, nil
	}
	switch mainType, subType := mediaType(contentType); {
	case matches(mainType, subType, "application", "json"):
		return parseJSONBody(body)
	case matches(mainType, subType, "application", "x-www-form-urlencoded"):
		return &Data{form: true, fields: parseQuery(body)}, nil
	case matches(mainType, subType, "multipart", "form-data"):
		fields, err := parseMultipart(contentType, body)
		if err != nil {
			return nil, err
		}
		return &Data{form: true, fields: fields}, nil
	}
	return nil, &UnsupportedMediaTypeError{ContentType: contentType}
}

// parseJSONBody is JSONParser.parse: the body decoded as UTF-8 by a
// codecs StreamReader, then json.load.
func parseJSONBody(body []byte) (*Data, error) {
	text, err := decodeUTF8(body, false, false)
	if err == nil {
		var v Value
		if v, err = parseJSON(text); err == nil {
			if v.Kind != Dict {
				return nil, notAnObject(v.Kind)
			}
			return &Data{top: v}, nil
		}
	}
	return nil, &ParseError{Detail: "JSON parse error - " + err.Error()}
}

// notAnObject is Serializer.run_validation's refusal of data that is not
// a mapping.
func notAnObject(k Kind) error {
	if k == Null {
		return &NotAnObjectError{Message: "No data provided"}
	}
	return &NotAnObjectError{Message: "Invalid data. Expected a dictionary, but got " + pyTypeNames[k] + "."}
}

// mediaType is _MediaType's main and sub type of a Content-Type: Django
// 3.2's parse_header, its first segment stripped and lower-cased.
func mediaType(ct string) (mainType, subType string) {
	segs := headerSegments(ct)
	full := strings.ToLower(segs[0]) // ASCII lower, as bytes.lower()
	mainType, subType, _ = strings.Cut(full, "/")
	return mainType, subType
}

// matches is _MediaType(parser).match(_MediaType(request)): a "*" in the
// request's type matches anything.
func matches(reqMain, reqSub, main, sub string) bool {
	return (reqSub == "*" || reqSub == sub) && (reqMain == "*" || reqMain == main)
}

// pyBytesSpace is what bytes.strip() removes.
const pyBytesSpace = " \t\n\r\v\f"

// headerSegments is Django's _parse_header_params(b';' + line): the
// header split at semicolons outside double quotes, each segment
// stripped.
func headerSegments(line string) []string {
	var out []string
	s := ";" + line
	for strings.HasPrefix(s, ";") {
		s = s[1:]
		end := strings.IndexByte(s, ';')
		for end > 0 && strings.Count(s[:end], `"`)%2 == 1 {
			next := strings.IndexByte(s[end+1:], ';')
			if next < 0 {
				end = -1
				break
			}
			end += 1 + next
		}
		if end < 0 {
			end = len(s)
		}
		out = append(out, strings.Trim(s[:end], pyBytesSpace))
		s = s[end:]
	}
	return out
}

// headerParam is parse_header's value of the parameter name (lower
// case), unquoted, and whether it is there.
func headerParam(line, name string) (string, bool) {
	val, found := "", false
	for _, p := range headerSegments(line)[1:] {
		i := strings.IndexByte(p, '=')
		if i < 0 || strings.ToLower(strings.Trim(p[:i], pyBytesSpace)) != name {
			continue
		}
		v := strings.Trim(p[i+1:], pyBytesSpace)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(strings.ReplaceAll(v[1:len(v)-1], `\\`, `\`), `\"`, `"`)
		}
		val, found = v, true // the last one wins (a dict)
	}
	return val, found
}

// parseQuery is QueryDict(body): the body decoded as UTF-8 (as Latin-1
// when it is not), then urllib.parse.parse_qsl(keep_blank_values=True).
func parseQuery(body []byte) map[string][]Value {
	var text string
	if rs, err := decodeUTF8(body, true, false); err == nil {
		text = string(rs)
	} else {
		rs := make([]rune, len(body))
		for i, c := range body {
			rs[i] = rune(c)
		}
		text = string(rs)
	}
	fields := map[string][]Value{}
	for _, pair := range strings.Split(text, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name = unquote(strings.ReplaceAll(name, "+", " "))
		fields[name] = append(fields[name], Value{Kind: String, Text: unquote(strings.ReplaceAll(value, "+", " "))})
	}
	return fields
}

// unquote is urllib.parse.unquote(s, errors="replace"): %XX escapes in
// runs of ASCII become bytes, decoded as UTF-8; a "%" without two hex
// digits stays as it is.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var out strings.Builder
	var pending []byte // the bytes of the current run of ASCII, unescaped
	flush := func() {
		out.WriteString(decodeUTF8Replace(pending))
		pending = pending[:0]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 { // a non-ASCII character is kept as it is
			flush()
			j := i + 1
			for j < len(s) && s[j] >= 0x80 {
				j++
			}
			out.WriteString(s[i:j])
			i = j
			continue
		}
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			pending = append(pending, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 3
			continue
		}
		pending = append(pending, c)
		i++
	}
	flush()
	return out.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// parseMultipart is Django's MultiPartParser, as DRF's MultiPartParser
// calls it: fields decoded as UTF-8 with replacement, parts without a
// name skipped, parts with a file name kept as files (after the fields),
// those whose file name is empty once sanitised skipped. A body the
// parser cannot read further ends the parts, as Django's stream does.
func parseMultipart(contentType string, body []byte) (map[string][]Value, error) {
	if !strings.HasPrefix(contentType, "multipart/") {
		return nil, &ParseError{Detail: "Multipart form parse error - Invalid Content-Type: " + contentType}
	}
	for i := 0; i < len(contentType); i++ {
		if contentType[i] >= 0x80 {
			return nil, &ParseError{Detail: "Multipart form parse error - Invalid non-ASCII Content-Type in multipart: " + contentType}
		}
	}
	boundary, ok := headerParam(contentType, "boundary")
	if !ok || !validBoundary(boundary) {
		shown := "None"
		if ok {
			shown = boundary
		}
		return nil, &ParseError{Detail: "Multipart form parse error - Invalid boundary in multipart: " + shown}
	}
	fields := map[string][]Value{}
	var files []Value // the file parts, in order, and their field names
	var fileNames []string
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		_, params, hasDisposition := dispositionParams(p.Header.Get("Content-Disposition"))
		name := strings.Trim(params["name"], pyBytesSpace)
		if !hasDisposition || name == "" {
			continue
		}
		name = decodeUTF8Replace([]byte(name))
		if fn := params["filename"]; fn != "" {
			if fn = sanitizeFileName(decodeUTF8Replace([]byte(fn))); fn != "" {
				files = append(files, Value{Kind: File, Text: fn})
				fileNames = append(fileNames, name)
			}
			continue
		}
		// A body that ends inside a part ends that part (Django's stream
		// gives what is left; Go's reader gives it, then an error).
		var b bytes.Buffer
		_, err = b.ReadFrom(p)
		fields[name] = append(fields[name], Value{Kind: String, Text: decodeUTF8Replace(b.Bytes())})
		if err != nil {
			break
		}
	}
	for i, name := range fileNames {
		fields[name] = append(fields[name], files[i])
	}
	return fields, nil
}

// dispositionParams parses a Content-Disposition header as Django's
// parse_header does.
func dispositionParams(h string) (string, map[string]string, bool) {
	if h == "" {
		return "", nil, false
	}
	params := map[string]string{}
	segs := headerSegments(h)
	for _, name := range []string{"name", "filename"} {
		if v, ok := headerParam(h, name); ok {
			params[name] = v
		}
	}
	return strings.ToLower(segs[0]), params, true
}

// validBoundary is cgi.valid_boundary: 1 to 201 printable ASCII
// characters, the last not a space.
func validBoundary(b string) bool {
	if len(b) == 0 || len(b) > 201 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] < ' ' || b[i] > '~' {
			return false
		}
	}
	return b[len(b)-1] != ' '
}

// sanitizeFileName is Django's MultiPartParser.sanitize_file_name, less
// its HTML unescaping and its dropping of unprintable characters: the
// base name, or "" for none.
func sanitizeFileName(fn string) string {
	if i := strings.LastIndexAny(fn, `/\`); i >= 0 {
		fn = fn[i+1:]
	}
	if fn == "." || fn == ".." {
		return ""
	}
	return fn
}

// Messages of serializers.CharField (DRF 3.14) and its validators.
const (
	MsgRequired = "This field is required."
	MsgNull     = "This field may not be null."
	MsgBlank    = "This field may not be blank."
	MsgInvalid  = "Not a valid string."
	msgNUL      = "Null characters are not allowed."
	msgSurr     = "Surrogate characters are not allowed: U+%X."
)

// IsPySpace reports whether str.isspace() holds for r: Go's white space
// and the four information separators U+001C..U+001F.
func IsPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1C && r <= 0x1F }

// PyStrip is str.strip().
func PyStrip(s string) string { return strings.TrimFunc(s, IsPySpace) }

// CharField validates v as serializers.CharField() does (required,
// neither null nor blank, surrounding white space trimmed): the value, or
// the field's error messages.
func CharField(v Value) (string, []string) {
	switch v.Kind {
	case Missing:
		return "", []string{MsgRequired}
	case Null:
		return "", []string{MsgNull}
	case String:
		if PyStrip(v.Text) == "" {
			return "", []string{MsgBlank}
		}
	case Int, Float:
	case File: // str(file) is its name
		if PyStrip(v.Text) == "" {
			return "", []string{MsgBlank}
		}
		return "", []string{MsgInvalid}
	default: // bool, list, dict
		return "", []string{MsgInvalid}
	}
	s := PyStrip(v.Text)
	var errs []string
	if strings.IndexByte(s, 0) >= 0 {
		errs = append(errs, msgNUL)
	}
	if v.Surrogate != 0 {
		errs = append(errs, fmt.Sprintf(msgSurr, v.Surrogate))
	}
	return s, errs
}

// Label is the label DRF gives a field in OPTIONS metadata:
// field_name.replace("_", " ").capitalize().
func Label(name string) string {
	rs := []rune(strings.ReplaceAll(name, "_", " "))
	for i, r := range rs {
		if i == 0 {
			rs[i] = unicode.ToTitle(r)
		} else {
			rs[i] = unicode.ToLower(r)
		}
	}
	return string(rs)
}
