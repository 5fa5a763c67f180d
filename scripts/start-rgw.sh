#!/usr/bin/env bash
# Single-node throwaway Ceph (1 mon, 1 memstore OSD, no mgr) + radosgw on 127.0.0.1:${RGW_PORT:-7480}
# for the S3 tests. Requires: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common
# Env: CEPH_DIR (scratch dir, wiped first; required), RGW_PORT, MON_PORT, RGW_AK, RGW_SK, MEMSTORE_BYTES.
# Stop with scripts/stop-rgw.sh (same CEPH_DIR). scripts/rgw.mjs wraps both with free ports and a temp dir.
set -euo pipefail
D=${CEPH_DIR:?set CEPH_DIR to a scratch directory}
case "$D" in /|/tmp|/tmp/|"$HOME"|"$HOME"/) echo "refusing CEPH_DIR=$D: use a fresh scratch directory" >&2; exit 2;; esac
PORT=${RGW_PORT:-7480}
MONPORT=${MON_PORT:-6789}
AK=${RGW_AK:-testaccesskey}
SK=${RGW_SK:-testsecretkey}
rm -rf "$D"; mkdir -p "$D"/{mon,osd/ceph-0,log,run,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
C="$D/ceph.conf"
cat > "$C" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MONPORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-4294967296}
osd journal size = 100
osd crush update on start = false
osd class update on start = false
debug ms = 0
[mon]
mon data avail crit = 1
mon data avail warn = 2
paxos propose interval = 0.05
paxos min wait = 0.01
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 64
EOF
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MONPORT]" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon -c "$C" -i a
# the mon may answer EPERM/timeout for a moment after start: retry
for i in $(seq 1 50); do ceph -c "$C" --connect-timeout 5 osd create >/dev/null 2>&1 && break; sleep 0.2; done   # -> osd.0
ceph-osd -c "$C" -i 0 --mkfs --osd-uuid "$(cat /proc/sys/kernel/random/uuid)" 2>/dev/null
ceph -c "$C" osd crush add osd.0 1 root=default host=localhost >/dev/null 2>&1 || true
ceph-osd -c "$C" -i 0 2>>"$D/log/osd-stderr.log"
up=0; for i in $(seq 1 100); do ceph -c "$C" osd stat 2>/dev/null | grep -q '1 up' && { up=1; break; }; sleep 0.2; done
[ "$up" = 1 ] || { echo "osd.0 did not come up" >&2; exit 1; }
radosgw -c "$C" -n client.rgw.a
up=0; for i in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && { up=1; break; }; sleep 0.2; done
[ "$up" = 1 ] || { echo "radosgw did not answer on :$PORT" >&2; exit 1; }
radosgw-admin -c "$C" user create --uid=test --display-name=test --max-buckets=0 --access-key="$AK" --secret-key="$SK" >/dev/null
echo "RGW ready on http://127.0.0.1:$PORT (ak=$AK sk=$SK) conf=$C"
