# concord-bench/etcd: Debian's etcd 3.4 (the host's /usr/bin/etcd and the
# libraries ldd lists, staged by bench/containers/etcd-image under
# target/docker/etcd/) in a scratch image: the reference for the container
# benchmark, built the same way as Concord's images. Built from the
# repository root (see .dockerignore).
FROM scratch
COPY target/docker/etcd/ /
ENTRYPOINT ["/usr/bin/etcd"]
