# syntax=docker/dockerfile:1
#
# One image for every Switchboard process; the command picks which one runs:
#   node lib/worker.js        the Temporal worker (default)
#   node lib/relay/main.js    the webhook → signal relay (listens on RELAY_PORT, 8080)
#   node lib/sandbox/main.js  the local Daily sandbox (listens on SANDBOX_PORT, 8090)
# Configuration comes from the environment (see .env.example); each process validates it at start.

# --- build: compile src/ to lib/ (tsconfig.build.json: rootDir src, outDir lib) ---------------------------------
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install --no-save` installs exactly the locked versions; `npm ci` would refuse the lock file, which lacks the
# optional native builds the registry mirror it was made with does not serve (see scripts/ensure-deps.js).
RUN npm install --no-save --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and the compiled code only ----------------------------------------------
FROM node:20.20.2-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# @temporalio/worker is a production dependency: the worker bundles lib/workflows with it at start.
RUN npm install --no-save --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib ./lib
# The relay's spool directory (RELAY_SPOOL_PATH in docker-compose.yml), owned by the unprivileged user: a named volume
# mounted there starts with this ownership, so the relay can write its spool.
RUN mkdir -p /var/lib/switchboard && chown node:node /var/lib/switchboard
# The base image's unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
EXPOSE 8080 8090
CMD ["node", "lib/worker.js"]
