# concord/consensus: a concord-consensus member (etcd's flags; gRPC on its
# client URL, raft on its peer URL), with concordctl, also as `etcdctl`.
# Built from the repository root by docker/build-images, which stages the
# static binaries in target/docker/ (see .dockerignore).
FROM scratch
COPY target/docker/bin/concord-consensus target/docker/bin/concordctl /usr/local/bin/
COPY target/docker/etcdctl/ /usr/local/bin/
COPY config/compose/member.yaml /etc/concord/member.yaml
# A member serves no HTTP: etcdctl talks to the cluster through the compose
# front (service `front`), as the member's advertised client URL says.
# Plain `etcdctl` speaks v2, as in etcd 3.3's images; `ETCDCTL_API=3
# etcdctl` v3.
ENV PATH=/usr/local/bin \
    CONCORD_CONFIG_FILE=/etc/concord/member.yaml \
    ETCDCTL_API=2 \
    ETCDCTL_ENDPOINTS=http://front:2379
EXPOSE 2379 2380
ENTRYPOINT ["/usr/local/bin/concord-consensus"]
