package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeJSONRef is the former decoder, built on encoding/json's Token: the
// reference that decodeJSON must agree with.
func decodeJSONRef(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	budget := MaxJSONValues
	v, err := readJSONRef(dec, 0, &budget)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func readJSONRef(dec *json.Decoder, depth int, budget *int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("too deep")
	}
	if *budget--; *budget < 0 {
		return nil, errors.New("too many values")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := jsonObj{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readJSONRef(dec, depth+1, budget)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonKV{k.(string), v})
			}
			_, err := dec.Token()
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readJSONRef(dec, depth+1, budget)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case json.Number:
		return strconv.ParseUint(string(t), 10, 64)
	}
	return tok, nil
}

// agreeWithRef fails unless decodeJSON and decodeJSONRef agree on b: the
// same value, or both an error (decodeJSON's being a *JSONError).
func agreeWithRef(t *testing.T, b []byte) {
	t.Helper()
	got, err := decodeJSON(b)
	want, refErr := decodeJSONRef(b)
	if (err != nil) != (refErr != nil) {
		t.Fatalf("decodeJSON(%.60q): error %v, reference error %v", b, err, refErr)
	}
	if err != nil {
		var je *JSONError
		if !errors.As(err, &je) || err.Error() == "" {
			t.Fatalf("decodeJSON(%.60q): error %v is not a clear JSONError", b, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%.60q) = %#v, reference %#v", b, got, want)
	}
}

var jsonSamples = []string{
	`{"HubName_str":"HUB1","Online_bool":true,"Ip_ip":"10.0.0.1","n":null,"f":false}`,
	`{"AccessListSingle":[{"Note_utf":"x","Priority_u32":1,"DestIpAddress_ip":"::1"}]}`,
	` { "a" : [ 1 , 2 , [ ] , { } , "" ] } `, `[]`, `{}`, `0`, `18446744073709551615`, `18446744073709551616`,
	`"\u00e9\ud83d\ude00\ud800\udc00\ud800x\udc00\ud800\u0041\"\\\/\b\f\n\r\t"`, "\"\xff\xfe ok \xed\xa0\x80\"",
	`"\u12"`, `"\x"`, "\"a\x01\"", `-1`, `1.5`, `1e3`, `01`, `-`, `1.`, `1e`, `.5`, `+1`, `tru`, `nul`, `true false`,
	`{"a" 1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{1:2}`, `{"a":1} x`, `{"a":1}}`, ``, ` `, `"abc`, `[`, `{"a":`,
	"\ufeff{}", strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat("[", maxJSONDepth) + "1" + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
}

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		agreeWithRef(t, []byte(s))
	}
}

func TestDecodeJSONValueBudget(t *testing.T) {
	under := []byte("[" + strings.Repeat("0,", MaxJSONValues-2) + "0]")
	if _, err := decodeJSON(under); err != nil {
		t.Fatalf("%d values: %v", MaxJSONValues, err)
	}
	over := []byte("[" + strings.Repeat("0,", MaxJSONValues-1) + "0]")
	_, err := decodeJSON(over)
	var je *JSONError
	if !errors.As(err, &je) || !strings.Contains(err.Error(), "JSON values") {
		t.Fatalf("%d values: %v, want a JSONError about the number of values", MaxJSONValues+1, err)
	}
}

// FuzzDecodeJSON checks decodeJSON against encoding/json.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { agreeWithRef(t, b) })
}
