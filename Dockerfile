# syntax=docker/dockerfile:1
# One image for every role: `trailgate gateway`, `indexer`, `forwarder`, `replay`, `up`, and the read
# commands. Build: docker build -t trailgate .   Run: docker run --rm trailgate --version
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Native addons (better-sqlite3, ssh2's optional cpu-features) compile where no prebuilt binary can be
# fetched; node-gyp takes Node's headers from the image instead of downloading them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
WORKDIR /src
COPY package.json package-lock.json ./
# A TLS-intercepting proxy's CA can be passed as a build secret: --secret id=ca-certificates,src=ca.pem
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --no-audit
# The rest of the context: .dockerignore lets in only the sources, tsconfig and bin/.
COPY . .
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A user of its own, no login shell; the data volume belongs to it.
RUN groupadd --system --gid 10001 trailgate \
 && useradd --system --uid 10001 --gid trailgate --home-dir /var/lib/trailgate --no-create-home --shell /usr/sbin/nologin trailgate \
 && mkdir -p /var/lib/trailgate /etc/trailgate \
 && chown trailgate:trailgate /var/lib/trailgate
WORKDIR /app
# What `npm pack` ships (package.json "files") plus the production dependencies, built above.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/services/replay/web ./services/replay/web
RUN ln -s /app/bin/trailgate.js /usr/local/bin/trailgate \
 && ln -s /app/bin/trailgate-askpass /usr/local/bin/trailgate-askpass
USER 10001:10001
# The embedded log, spool, keys and generated certificates (dataDir: /var/lib/trailgate in the config).
VOLUME ["/var/lib/trailgate"]
WORKDIR /var/lib/trailgate
# Postgres, SSH, replay UI, metrics with /healthz and /readyz.
EXPOSE 6432 2222 6480 9464
ENTRYPOINT ["trailgate"]
CMD ["--help"]
