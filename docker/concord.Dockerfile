# concord/concord: the all-in-one member (consensus, watch hub and the etcd
# v2 HTTP API in one process; etcd's flags), with concordctl, also as
# `etcdctl`: the image of the classic "etcd cluster with Docker"
# walkthrough, one member per host. Built from the repository root by
# docker/build-images.
FROM scratch
COPY target/docker/bin/concord target/docker/bin/concordctl /usr/local/bin/
COPY target/docker/etcdctl/ /usr/local/bin/
# etcdctl inside the container talks to this member; a member listening on
# another address sets ETCDCTL_ENDPOINTS (docker run -e, compose). Plain
# `etcdctl` speaks v2, as in etcd 3.3's images; `ETCDCTL_API=3 etcdctl` v3.
ENV PATH=/usr/local/bin \
    ETCDCTL_API=2 \
    ETCDCTL_ENDPOINTS=http://127.0.0.1:2379
EXPOSE 2379 2380
ENTRYPOINT ["/usr/local/bin/concord"]
