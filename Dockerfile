# One image for every keda-lab service: `keda-lab serve api|worker|webhook` (the chart picks the
# command per Deployment; the default is the API). Built into the cluster by `keda-lab install`
# (minikube image build / kind load), by the release workflow, or by `docker build -t keda-lab .`.
#
# It is built from what `npm run build` left in dist/: one esbuild bundle (scripts/bundle.mjs) that
# carries keda-lab's dependencies at the versions package-lock.json pins, so there is nothing to
# install, no node_modules and no npm step. The same file works in a checkout (after `npm ci`, whose
# prepare script builds) and in the installed npm package (which ships dist/ and this Dockerfile).

# Pinned Node 24 LTS (override with --build-arg NODE_IMAGE=…@sha256:… to pin by digest).
ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json oclif.manifest.json ./
COPY bin/run.js ./bin/run.js
COPY dist ./dist
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
