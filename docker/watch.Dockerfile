# concord/watch: a concord-watch replica (the watch fan-out, gRPC), with
# concordctl for its healthcheck (`concordctl probe --grpc`). Built from the
# repository root by docker/build-images.
FROM scratch
COPY target/docker/bin/concord-watch target/docker/bin/concordctl /usr/local/bin/
COPY config/compose/watch.yaml /etc/concord/watch.yaml
ENV PATH=/usr/local/bin \
    CONCORD_CONFIG_FILE=/etc/concord/watch.yaml
EXPOSE 2379
ENTRYPOINT ["/usr/local/bin/concord-watch"]
