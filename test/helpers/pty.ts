/**
 * Drives the real CLI in a real pseudo-terminal (Python's pty module; python3 is test tooling):
 * waits for each step's `expect` regex in the terminal output (ANSI stripped), then types `send`.
 * The terminal is 50 rows x 200 columns (a fresh pty has 0 x 0, which no real terminal has).
 */
import {cliEntry, repoRoot} from './cli.js'
import {spawnTracked} from './processes.js'

const DRIVER = String.raw`
import json, os, pty, re, select, sys, time, signal
steps = json.loads(sys.argv[1])
cmd = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(cmd[0], cmd, os.environ)
import fcntl, struct, termios
# A terminal of 50 rows x 200 columns (a fresh pty has 0 x 0, which no real terminal has).
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 200, 0, 0))
ansi = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]|\r')
raw = b''
def text():
    return ansi.sub('', raw.decode('utf-8', 'replace'))
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
mark = 0
for step in steps:
    deadline = time.time() + step.get('timeout', 60)
    pattern = re.compile(step['expect'])
    while True:
        m = pattern.search(text(), mark)
        if m:
            mark = m.end()
            break
        if time.time() > deadline or not pump(0.2):
            if time.time() <= deadline:
                m = pattern.search(text(), mark)
                if m:
                    mark = m.end()
                    break
            sys.stdout.write(text())
            sys.stdout.write('\n@@TIMEOUT waiting for ' + step['expect'] + '\n')
            os.kill(pid, signal.SIGKILL)
            sys.exit(124)
    if 'send' in step:
        time.sleep(0.05)
        os.write(fd, step['send'].encode())
end = time.time() + 60
while time.time() < end and pump(0.5):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(text())
sys.exit(os.waitstatus_to_exitcode(status))
`

/** One exchange: wait for `expect` (a regex source), then type `send` (if any). */
export interface PtyStep {
  expect: string
  send?: string
  /** Seconds to wait for `expect` (default 60: a margin for a CLI starting on a loaded machine, not a speed limit). */
  timeout?: number
}

/** Runs `keda-lab <args>` in a pseudo-terminal through `steps`; resolves with the exit code and the transcript. */
export async function runCliInPty(
  args: string[],
  steps: PtyStep[],
  options: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {},
): Promise<{code: number | null; transcript: string}> {
  // Tracked: if the worker dies, the teardown kills the driver; the CLI then loses its terminal (SIGHUP).
  const child = spawnTracked('python3', ['-c', DRIVER, JSON.stringify(steps), process.execPath, cliEntry(), ...args], {
    cwd: repoRoot,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', TERM: 'xterm-256color', COLUMNS: '200', LINES: '50', ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let transcript = ''
  child.stdout!.on('data', (d) => (transcript += d))
  child.stderr!.on('data', (d) => (transcript += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return {code, transcript}
}
