# One image for every keda-lab service: `keda-lab serve api|worker|webhook` (the chart picks the
# command per Deployment; the default is the API). Built into the cluster by `keda-lab install`
# (minikube image build / kind load) or by `docker build -t keda-lab .`.

# Pinned Node 24 LTS (override with --build-arg NODE_IMAGE=…@sha256:… to pin by digest).
ARG NODE_IMAGE=node:24.21.0-trixie-slim

# --- build: all dependencies, TypeScript → dist/, oclif manifest ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; we build below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build

# --- runtime: production dependencies only, non-root ---------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/oclif.manifest.json ./oclif.manifest.json
COPY bin/run.js ./bin/run.js
COPY templates ./templates
RUN chmod 0755 /app/bin/run.js \
    && ln -s /app/bin/run.js /usr/local/bin/keda-lab

# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# API 8000, API metrics 9001, worker metrics 9002 (the webhook's ports are set by the chart).
EXPOSE 8000 9001 9002

# Node is PID 1: the services handle SIGTERM themselves (graceful stop on KEDA's scale-down).
ENTRYPOINT ["keda-lab"]
CMD ["serve", "api"]
