/**
 * The uninstall confirmation in a real pseudo-terminal (Python's pty module): the plan is shown,
 * "n" cancels with nothing removed, "y" proceeds. Real Helm 3 on PATH, fake Kubernetes API.
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type FakeKubeApi, startFakeKubeApi} from '../fakes/kube-api.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'

// Waits for `expect` in the terminal output (ANSI stripped), types `send`, then collects the rest.
const DRIVER = String.raw`
import os, pty, re, select, sys, time, signal
expect, send = sys.argv[1], sys.argv[2]
cmd = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(cmd[0], cmd, os.environ)
ansi = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\r')
raw = b''
def pump(timeout):
    global raw
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return False
    if not chunk:
        return False
    raw += chunk
    return True
deadline = time.time() + 30
while not re.search(expect, ansi.sub('', raw.decode('utf-8', 'replace'))):
    if time.time() > deadline or not pump(0.2):
        sys.stdout.write(ansi.sub('', raw.decode('utf-8', 'replace')) + '\n@@TIMEOUT\n')
        os.kill(pid, signal.SIGKILL)
        sys.exit(124)
os.write(fd, send.encode())
end = time.time() + 60
while time.time() < end and pump(0.5):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(ansi.sub('', raw.decode('utf-8', 'replace')))
sys.exit(os.waitstatus_to_exitcode(status))
`

let api: FakeKubeApi
let dir: string

beforeEach(async () => {
  if (!existsSync(join(repoRoot, '.tools/helm3/helm'))) throw new Error('.tools/helm3/helm is missing: run scripts/fetch-tools.sh (or .ci/run)')
  api = await startFakeKubeApi()
  dir = mkdtempSync(join(tmpdir(), 'uninstall-pty-'))
  api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda-monitoring'}})
})

afterEach(async () => {
  await api.close()
  rmSync(dir, {recursive: true, force: true})
})

async function answer(send: string): Promise<{code: number | null; transcript: string}> {
  const child = spawn('python3', ['-c', DRIVER, String.raw`Remove keda-lab from context fake\?`, send, process.execPath, cliEntry(), 'uninstall', '--timeout', '10'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      KUBECONFIG: api.writeKubeconfig(dir),
      PATH: `${join(repoRoot, '.tools/helm3')}:${process.env.PATH}`,
      HELM_CACHE_HOME: join(dir, 'helm-cache'),
      HELM_CONFIG_HOME: join(dir, 'helm-config'),
      NO_COLOR: '1',
      TERM: 'xterm-256color',
      COLUMNS: '200',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let transcript = ''
  child.stdout.on('data', (d) => (transcript += d))
  child.stderr.on('data', (d) => (transcript += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return {code, transcript}
}

describe('keda-lab uninstall in a terminal', () => {
  it('"n" cancels and removes nothing', async () => {
    const {code, transcript} = await answer('n\r')
    expect(transcript).toContain('Namespaces to delete: keda-monitoring')
    expect(transcript).toContain('Error: Uninstall cancelled: nothing was removed.')
    expect(code).toBe(1)
    expect(api.get('v1', 'Namespace', 'keda-monitoring')).toBeDefined()
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([])
  })

  it('"y" proceeds', async () => {
    const {code, transcript} = await answer('y\r')
    expect(transcript).toContain('√ Namespace keda-monitoring removed')
    expect(code).toBe(0)
    expect(api.get('v1', 'Namespace', 'keda-monitoring')).toBeUndefined()
  })
})
