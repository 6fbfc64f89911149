import {Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'

const PORTS = 'LOCAL PORTS (--port-forward)'

export default class Tunnel extends ClusterCommand {
  static override summary = 'Make the lab reachable from this machine until Ctrl-C: minikube tunnel, or port-forwards on any cluster'

  static override description =
    `On minikube, runs \`minikube tunnel\` (it may ask for your password: it adds a route and binds ports for LoadBalancer Services).

With --port-forward (the default on clusters other than minikube), forwards the API, Grafana, Prometheus and Alertmanager Services to local ports through the API server (no sudo, no routes): Service → a Ready pod → its port; the usual ports 8000, 3000, 9090, 9093 when free, else free ones; a dropped forward is re-established on a Ready pod; Ctrl-C closes everything. Exit code 3 when the lab is not installed, 4 when the cluster cannot be reached.`

  static override examples = [
    '<%= config.bin %> tunnel',
    '<%= config.bin %> tunnel --port-forward',
    '<%= config.bin %> tunnel --port-forward --api-port 8080 --grafana-port 0',
  ]

  static override enableJsonFlag = false

  static override flags = {
    'port-forward': Flags.boolean({description: 'Forward the Services to local ports through the API server (any cluster, no sudo)', default: false}),
    address: Flags.string({description: 'Local address to listen on', default: '127.0.0.1', helpGroup: PORTS}),
    'api-port': Flags.integer({description: 'Local port for the API (0: any free port)', default: 8000, min: 0, max: 65_535, helpGroup: PORTS}),
    'grafana-port': Flags.integer({description: 'Local port for Grafana', default: 3000, min: 0, max: 65_535, helpGroup: PORTS}),
    'prometheus-port': Flags.integer({description: 'Local port for Prometheus', default: 9090, min: 0, max: 65_535, helpGroup: PORTS}),
    'alertmanager-port': Flags.integer({description: 'Local port for Alertmanager', default: 9093, min: 0, max: 65_535, helpGroup: PORTS}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Tunnel)
    const [{runTunnel}, {formatForwardEvent}] = await Promise.all([import('../lab/tunnel/command.js'), import('../lab/tunnel/format.js')])
    await runTunnel(
      {
        portForward: flags['port-forward'],
        context: flags.context,
        namespace: flags.namespace,
        monitoringNamespace: flags['monitoring-namespace'],
        address: flags.address,
        localPorts: {api: flags['api-port'], grafana: flags['grafana-port'], prometheus: flags['prometheus-port'], alertmanager: flags['alertmanager-port']},
      },
      {
        print: (line) => this.log(line),
        printEvent: (event) => this.log(formatForwardEvent(event)),
      },
    )
  }
}
