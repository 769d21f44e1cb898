package config

import "testing"

func TestFarmFolderRoundTrip(t *testing.T) {
	root := Default().ToTree()
	if _, ok := ReadFarm(root); ok {
		t.Fatal("the default configuration is in a farm")
	}
	want := Farm{Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379"}, Address: "10.0.0.9", Weight: 200,
		NoSessions: true, Name: "n1", Cluster: "c", CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/c.key"}
	want.Put(root)
	back, err := Parse(root.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ReadFarm(back)
	if !ok || got.Address != want.Address || got.Weight != 200 || !got.NoSessions || got.Name != "n1" || got.Cluster != "c" ||
		got.CAFile != "/ca.pem" || got.CertFile != "/c.pem" || got.KeyFile != "/c.key" || len(got.Endpoints) != 2 || got.Endpoints[1] != want.Endpoints[1] {
		t.Fatalf("read back %+v %v, want %+v", got, ok, want)
	}
}

// FuzzReadFarm reads the farm settings of arbitrary configuration text:
// settings or none, never a panic.
func FuzzReadFarm(f *testing.F) {
	f.Add([]byte("declare root\n{\n\tdeclare EtherVPNFarm\n\t{\n\t\tstring Endpoints https://10.0.0.1:2379,,x\n\t\tuint Weight 5\n\t}\n}\n"))
	f.Add([]byte("declare root\n{\n\tstring EtherVPNFarm x\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Parse(b)
		if err != nil {
			return
		}
		if fm, ok := ReadFarm(root); ok && len(fm.Endpoints) == 0 {
			t.Fatal("in a farm without endpoints")
		}
	})
}
