#!/bin/bash
# A/B: get throughput for etcd, concord HEAD, concord with the v2 router only, concord with an HTTP/1-only serve loop
cd /tmp/abtest
B=/work/shared/bench/v2bench
[ -x $B ] || B=$(cd /work/main/../shared/bench && pwd)/v2bench
for round in 1 2; do
for v in etcd head v2only http1; do
  rm -rf data-$v; mkdir data-$v
  if [ $v = etcd ]; then
    etcd --name n --data-dir data-$v --listen-client-urls http://127.0.0.1:42379 --advertise-client-urls http://127.0.0.1:42379 --listen-peer-urls http://127.0.0.1:42380 --initial-advertise-peer-urls http://127.0.0.1:42380 --initial-cluster n=http://127.0.0.1:42380 --enable-v2 >log-$v 2>&1 &
  else
    env $( [ $v = v2only ] && echo CONCORD_EXP_V2ONLY=1) $( [ $v = http1 ] && echo CONCORD_EXP_HTTP1=1) ./concord-exp --name n --data-dir data-$v --listen-client-urls http://127.0.0.1:42379 --advertise-client-urls http://127.0.0.1:42379 --listen-peer-urls http://127.0.0.1:42380 --initial-advertise-peer-urls http://127.0.0.1:42380 --initial-cluster n=http://127.0.0.1:42380 >log-$v 2>&1 &
  fi
  pid=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:42379/v2/keys >/dev/null && break; sleep 0.2; done
  $B --endpoints http://127.0.0.1:42379 --pids $pid --workloads load,get --get-conc 16,256 --duration 10 --warmup 2 --label "$v r$round" --json res-$v-$round.json > out-$v-$round.txt 2>&1
  kill $pid; wait $pid 2>/dev/null
done
done
for f in res-*.json; do python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(sys.argv[1], json.dumps(d)[:0])
' $f; done
