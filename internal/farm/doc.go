// Package farm runs ethervpn as a server farm on etcd: the configuration
// all nodes share, kept in etcd one object per key and watched by every
// node (ConfigStore). SoftEther's farm has a controller that holds the
// users and tells members what to do; here no node is special and etcd
// holds the shared state (facts: ../shared/spec/farm.md, B.7).
package farm
