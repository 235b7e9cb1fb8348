# concord/front: Debian's haproxy (the host's /usr/sbin/haproxy and the
# shared libraries ldd lists, staged by docker/build-images under
# target/docker/front/) in a scratch image, balancing over the compose
# gateways; concordctl for its healthcheck (`concordctl probe`). Built from
# the repository root by docker/build-images.
FROM scratch
COPY target/docker/front/ /
COPY target/docker/bin/concordctl /usr/local/bin/
COPY config/compose/haproxy.cfg /etc/haproxy/haproxy.cfg
ENV PATH=/usr/local/bin:/usr/sbin
EXPOSE 2379
# -db: stay in the foreground (the container's process), logging to stdout.
ENTRYPOINT ["/usr/sbin/haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
