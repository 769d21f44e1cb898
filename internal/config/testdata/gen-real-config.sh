#!/bin/bash
# Regenerates real-5.01.vpn_server.config with the Debian SoftEther 5.01
# packages (softether-vpnserver, softether-vpncmd). Run as root; writes to
# $D and prints the path of the new file. The server runs in its own
# network namespace (loopback only) and a private mount namespace, so it
# cannot reach the network or touch a system-wide SoftEther instance.
set -eu
NS=cfgfix-srv
D=${D:-/tmp/cfgfix}
# SEEXEC NETNS BASEDIR CMD...: the Debian build's state dirs come from BASEDIR
SEEXEC=se_exec
se_exec() (
  ns=$1 base=$2; shift 2
  mkdir -p "$base/db" "$base/log" "$base/run"
  exec ip netns exec "$ns" unshare -m --propagation private sh -c '
	b=$1; shift
	mkdir -p /var/lib/softether /var/log/softether /run/softether
	mount --bind "$b/db" /var/lib/softether
	mount --bind "$b/log" /var/log/softether
	mount --bind "$b/run" /run/softether
	exec "$@"' se-exec "$base" "$@"
)
cleanup() {
  if [ -f $D/server.pid ]; then p=$(cat $D/server.pid); kill -TERM $p 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 $p 2>/dev/null || break; sleep 0.2; done; kill -KILL $p 2>/dev/null || true; rm -f $D/server.pid; fi
  ip netns del $NS 2>/dev/null || true
  rm -rf /etc/netns/$NS
}
trap cleanup EXIT
ip netns add $NS
ip netns exec $NS ip link set lo up
mkdir -p /etc/netns/$NS; echo "nameserver 127.0.0.1" > /etc/netns/$NS/resolv.conf
rm -rf $D/server $D/cmd; mkdir -p $D/server $D/cmd
cp /usr/share/softether-common/hamcore.se2 $D/server/; cp /usr/share/softether-common/hamcore.se2 $D/cmd/
cp /usr/libexec/softether/vpnserver/vpnserver $D/server/; cp /usr/libexec/softether/vpncmd/vpncmd $D/cmd/
se_exec $NS $D/server $D/server/vpnserver start --foreground > $D/server.out 2>&1 < /dev/null &
for i in $(seq 1 300); do ip netns exec $NS bash -c "exec 3<>/dev/tcp/127.0.0.1/5555" 2>/dev/null && break; sleep 0.1; done
# the PID of exactly this instance (its binary lives in our own $D)
pgrep -xf "$D/server/vpnserver start --foreground" > $D/server.pid
vc() { $SEEXEC $NS $D/cmd $D/cmd/vpncmd 127.0.0.1:5555 /SERVER "$@"; }
for i in $(seq 1 20); do vc /CMD ServerInfoGet >/dev/null 2>&1 && break; sleep 0.5; done
cat > $D/setup.txt <<EOT
ServerPasswordSet testadmin
EOT
vc /IN:$D/setup.txt > $D/setup1.log 2>&1
cat > $D/setup2.txt <<EOT
HubCreate TESTHUB /PASSWORD:testhubpw
Hub TESTHUB
GroupCreate staff /REALNAME:"Staff Group" /NOTE:none
UserCreate alice /GROUP:staff /REALNAME:"Alice Example" /NOTE:"test user \$1"
UserPasswordSet alice /PASSWORD:alicepw
UserPolicySet alice /NAME:MaxUpload /VALUE:1000000
UserCreate guest /GROUP:none /REALNAME:none /NOTE:none
UserAnonymousSet guest
SecureNatEnable
Flush
EOT
vc /PASSWORD:testadmin /IN:$D/setup2.txt > $D/setup2.log 2>&1
p=$(cat $D/server.pid); kill -TERM $p
for i in $(seq 1 150); do kill -0 $p 2>/dev/null || break; sleep 0.2; done
rm -f $D/server.pid
cp $D/server/db/vpn_server.config $D/real.config
echo "$D/real.config"
