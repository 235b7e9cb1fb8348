# concord/discovery: concord-discovery, the discovery service (GET
# /new?size=N makes a token; members bootstrap with --discovery <url>), its
# registrations in SQLite under /var/lib/concord-discovery. Built from the
# repository root by docker/build-images.
FROM scratch
COPY target/docker/bin/concord-discovery target/docker/bin/concordctl /usr/local/bin/
# Serve on every address of the container; give the URL members reach it at
# with CONCORD_ADVERTISE_URL (or --advertise-url).
ENV PATH=/usr/local/bin \
    CONCORD_LISTEN_URL=http://0.0.0.0:2382 \
    CONCORD_DATA_DIR=/var/lib/concord-discovery
EXPOSE 2382
ENTRYPOINT ["/usr/local/bin/concord-discovery"]
