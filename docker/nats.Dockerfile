# concord/nats: Debian's nats-server (the host's /usr/sbin/nats-server and
# the shared libraries ldd lists, staged by docker/build-images under
# target/docker/nats/) in a scratch image: the event bus of compose.yaml's
# `nats` profile, JetStream on, its store in /data. Built from the
# repository root by docker/build-images.
FROM scratch
COPY target/docker/nats/ /
ENV PATH=/usr/sbin
EXPOSE 4222 8222
# -js: JetStream; -sd: its store (a volume in compose.yaml); -m: the
# monitoring port (/healthz).
ENTRYPOINT ["/usr/sbin/nats-server", "-js", "-sd", "/data", "-p", "4222", "-m", "8222"]
