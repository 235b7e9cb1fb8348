# concord/gateway: a stateless concord-gateway (the etcd v2 HTTP API over
# gRPC to the members and the watch tier), with concordctl, also as
# `etcdctl`. Built from the repository root by docker/build-images.
FROM scratch
COPY target/docker/bin/concord-gateway target/docker/bin/concordctl /usr/local/bin/
COPY target/docker/etcdctl/ /usr/local/bin/
COPY config/compose/gateway.yaml /etc/concord/gateway.yaml
# Plain `etcdctl` speaks v2, as in etcd 3.3's images; `ETCDCTL_API=3
# etcdctl` v3.
ENV PATH=/usr/local/bin \
    CONCORD_CONFIG_FILE=/etc/concord/gateway.yaml \
    ETCDCTL_API=2 \
    ETCDCTL_ENDPOINTS=http://127.0.0.1:2379
EXPOSE 2379
ENTRYPOINT ["/usr/local/bin/concord-gateway"]
