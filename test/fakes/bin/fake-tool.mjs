// Shared body of the fake `helm`, `minikube`, `kind` and `docker` programs used by the e2e tests.
// Each call appends {bin, argv, cwd} as one JSON line to the file named by FAKE_BIN_LOG, then emulates
// success. Failure and hangs on demand, matched against the joined argv:
//   FAKE_<BIN>_FAIL_ON=<substring>  exit 1 with a realistic stderr (e.g. FAKE_HELM_FAIL_ON=redis-ha)
//   FAKE_<BIN>_HANG_ON=<substring>  block until killed (to test Ctrl-C)
// `helm version --short` answers FAKE_HELM_VERSION (default v3.17.3+ge4da497).
import {appendFileSync, existsSync, readFileSync} from 'node:fs'

const FAILURES = {
  helm: (argv) =>
    argv[0] === 'upgrade'
      ? `Error: UPGRADE FAILED: resource not ready, name: ${argv[2]}-server, kind: StatefulSet, status: InProgress\ncontext deadline exceeded\n`
      : `Error: looks like "${argv[2] ?? ''}" is not a valid chart repository or cannot be reached: Get "${argv[3] ?? ''}/index.yaml": dial tcp: lookup failed\n`,
  minikube: () => 'X Exiting due to GUEST_STATUS: state: unknown state "minikube": docker container inspect minikube: exit status 1\n',
  kind: () => 'ERROR: image: "keda-lab:0.1.0" not present locally\n',
  docker: () => 'ERROR: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
}

/** Runs the fake program `bin` with `argv` (process.argv without node and the script). */
export async function fakeTool(bin, argv) {
  const log = process.env.FAKE_BIN_LOG
  const joined = argv.join(' ')
  const isVersion = bin === 'helm' && argv[0] === 'version'
  if (log) appendFileSync(log, `${JSON.stringify({bin, argv, cwd: process.cwd()})}\n`)

  const upper = bin.toUpperCase()
  const hangOn = process.env[`FAKE_${upper}_HANG_ON`]
  if (hangOn && !isVersion && joined.includes(hangOn)) {
    if (log) appendFileSync(log, `${JSON.stringify({bin, event: 'hanging', argv, pid: process.pid})}\n`)
    process.stdout.write('waiting for resources to become ready\n')
    setInterval(() => {}, 1000)
    return
  }
  const failOn = process.env[`FAKE_${upper}_FAIL_ON`]
  if (failOn && !isVersion && joined.includes(failOn)) {
    process.stderr.write(FAILURES[bin](argv))
    process.exit(1)
  }

  if (bin === 'helm') return helm(argv, log)
  if (bin === 'minikube') {
    if (argv[0] === 'addons') process.stdout.write(`* The '${argv[2]}' addon is enabled\n`)
    else if (argv[0] === 'image') process.stdout.write('Successfully tagged keda-lab\n')
  } else if (bin === 'kind') {
    if (argv[0] === 'load') process.stdout.write(`Image: "${argv[2]}" with ID "sha256:0f00" not yet present on node, loading...\n`)
  } else if (bin === 'docker') {
    if (argv[0] === 'build') process.stdout.write('#12 naming to docker.io/library/keda-lab done\n')
  }
}

function helm(argv, log) {
  if (argv[0] === 'version') {
    process.stdout.write(`${process.env.FAKE_HELM_VERSION ?? 'v3.17.3+ge4da497'}\n`)
    return
  }
  if (argv[0] === 'repo' && argv[1] === 'add') {
    process.stdout.write(`"${argv[2]}" has been added to your repositories\n`)
    return
  }
  if (argv[0] === 'repo' && argv[1] === 'update') {
    process.stdout.write('Update Complete. ⎈Happy Helming!⎈\n')
    return
  }
  if (argv[0] === 'upgrade') {
    // Remember installed releases beside the log so that a second run says "upgraded", like helm.
    const release = argv.find((a, i) => i > 0 && !a.startsWith('-') && argv[i - 1] !== '-n' && a !== '--install') ?? ''
    const state = log ? `${log}.releases` : undefined
    const known = state && existsSync(state) ? readFileSync(state, 'utf8').split('\n') : []
    if (known.includes(release)) process.stdout.write(`Release "${release}" has been upgraded. Happy Helming!\n`)
    else {
      process.stdout.write(`Release "${release}" does not exist. Installing it now.\n`)
      if (state) appendFileSync(state, `${release}\n`)
    }
    process.stdout.write(`NAME: ${release}\nSTATUS: deployed\n`)
    return
  }
  if (argv[0] === 'template') {
    process.stdout.write(`---\n# Source: fake/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${argv[1]}\n`)
  }
}
