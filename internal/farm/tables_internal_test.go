package farm

import (
	"encoding/json"
	"testing"
)

// FuzzRecords decodes arbitrary published rows, as a node reads another
// node's: a row or an error, never a panic; a row read back encodes to
// what it decodes from.
func FuzzRecords(f *testing.F) {
	f.Add([]byte(`{"node":"c","hub":"H","macs":[{"session":"S","mac":"02005e010203","vlan":1}],"ips":[{"session":"S","ip":"10.9.9.5","dhcp":true}]}`))
	f.Add([]byte(`{"macs":[{"mac":"zz"}]}`))
	f.Add([]byte(`{"node":"c","hub":"H","name":"SID-ANN-1","user":"ann","tcp":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ht HubTables
		if json.Unmarshal(b, &ht) == nil {
			again, err := json.Marshal(ht)
			if err != nil {
				t.Fatalf("a decoded row does not encode: %v", err)
			}
			var back HubTables
			if err := json.Unmarshal(again, &back); err != nil {
				t.Fatalf("an encoded row does not decode: %v", err)
			}
		}
		var s SessionRecord
		_ = json.Unmarshal(b, &s)
		var c Command
		_ = json.Unmarshal(b, &c)
	})
}
