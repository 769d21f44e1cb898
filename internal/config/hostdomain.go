package config

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// HostDomain returns this machine's DNS domain, the value SoftEther stores
// as a new hub's DhcpDomainName: the part of the host name after the first
// dot, else the "domain" (or first "search") entry of /etc/resolv.conf, else
// "".
func HostDomain() string {
	if h, err := os.Hostname(); err == nil {
		if i := strings.IndexByte(h, '.'); i >= 0 && i < len(h)-1 {
			return h[i+1:]
		}
	}
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	defer f.Close()
	return resolvDomain(f)
}

// resolvDomain reads a resolv.conf: "domain" wins over "search".
func resolvDomain(r io.Reader) string {
	var search string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "domain":
			return f[1]
		case "search":
			if search == "" {
				search = f[1]
			}
		}
	}
	return search
}
