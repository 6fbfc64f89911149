/**
 * `npm run kube:up` / `npm run kube:down`: the test suite's real control plane, for a person.
 * `up` starts it (or reuses the running one) and prints the `export KUBECONFIG=…` line;
 * `down` stops it. State (certificates, etcd data, logs) lives in $KEDA_LAB_KUBE_DIR, default
 * ~/.cache/keda-lab/kube/dev, so a second `up` starts on existing data.
 */
import {homedir} from 'node:os'
import {join} from 'node:path'

import {readState, startControlPlane, stopControlPlane} from './control-plane.js'

const dir = process.env.KEDA_LAB_KUBE_DIR ?? join(homedir(), '.cache', 'keda-lab', 'kube', 'dev')
const command = process.argv[2]

try {
  if (command === 'up') {
    const state = await startControlPlane({dir, log: (line) => console.error(line)})
    console.error(`Logs: ${join(dir, 'logs')}; stop it with: npm run kube:down`)
    console.log(`export KUBECONFIG=${state.kubeconfig}`)
  } else if (command === 'down') {
    const state = readState(dir)
    if (!state || Object.keys(state.pids).length === 0) console.error(`No control plane is running from ${dir}.`)
    else {
      await stopControlPlane(dir)
      console.error(`Stopped the control plane at ${state.server}.`)
    }
  } else {
    console.error('usage: tsx test/cluster/cli.ts up|down')
    process.exitCode = 2
  }
} catch (error) {
  console.error(`Error: ${(error as Error).message}`)
  process.exitCode = 1
}
