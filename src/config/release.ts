/** The app release's name: the Helm release keda-lab installs, and the prefix of its objects (shared contract with the chart). */
export const APP_RELEASE = 'keda-lab'
