import {Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import {KedaLabError} from '../errors.js'

export default class Uninstall extends ClusterCommand {
  static override description =
    'Remove the lab: Helm releases in reverse install order, then the namespaces; PVCs are kept unless --purge. Detects a namespace stuck in Terminating (--force clears its finalizers) and cluster-scoped leftovers.'

  static override examples = [
    '<%= config.bin %> uninstall',
    '<%= config.bin %> uninstall --yes --purge',
    '<%= config.bin %> uninstall --yes --force --timeout 60',
    '<%= config.bin %> uninstall --yes --json',
  ]

  static override flags = {
    purge: Flags.boolean({
      description: 'Also delete PersistentVolumeClaims (Redis data) and cluster-scoped leftovers (CRDs, ClusterRoles...)',
      env: 'KEDA_LAB_PURGE',
      default: false,
    }),
    force: Flags.boolean({description: 'Clear the finalizers that keep a namespace in Terminating', env: 'KEDA_LAB_FORCE', default: false}),
    timeout: Flags.integer({
      description: 'Seconds to wait for the namespaces (and, with --purge, the CRDs) to disappear',
      env: 'KEDA_LAB_TIMEOUT',
      default: 300,
      min: 1,
    }),
  }

  async run() {
    const {flags} = await this.parse(Uninstall)
    const [{createKube}, {createReleaseManager}, {uninstall, describePlan, uninstallWithoutCluster}, {formatUninstallReport}, ui] = await Promise.all([
      import('../adapters/kube/index.js'),
      import('../lab/uninstall/releases.js'),
      import('../lab/uninstall/run.js'),
      import('../lab/uninstall/format.js'),
      import('../ui/prompts.js'),
    ])
    const kube = await createKube({context: flags.context}).catch(uninstallWithoutCluster)
    const report = await uninstall(
      {namespace: flags.namespace, monitoringNamespace: flags['monitoring-namespace'], purge: flags.purge, force: flags.force, timeoutMs: flags.timeout * 1000},
      {
        kube,
        releases: createReleaseManager({kubeContext: flags.context}),
        log: (line) => this.log(line),
        confirm: async (plan) => {
          for (const line of describePlan(plan, flags)) this.log(line)
          if (flags.yes || (plan.releases.length === 0 && plan.namespaces.length === 0 && !flags.purge)) return true
          if (!ui.canPrompt(flags)) {
            throw new KedaLabError('uninstall needs a confirmation and there is no terminal to ask on', {
              hint: 'run it again with --yes (or KEDA_LAB_YES=1) to confirm',
            })
          }
          const prompter = await ui.createPrompter()
          return prompter.confirm({message: `Remove keda-lab from context ${kube.contextName}?`, default: false}).catch(() => false)
        },
      },
    )
    if (!this.jsonEnabled()) for (const line of formatUninstallReport(report, flags)) this.log(line)
    // Not this.exit(1): under --json oclif would print the exit as an error object after the report.
    if (!report.ok) process.exitCode = 1
    return report
  }
}
