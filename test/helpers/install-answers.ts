import type {InstallAnswers} from '../../src/lab/install/options.js'

/** A complete set of install answers (the defaults, with a Telegram token and chat id) for unit tests. */
export const sampleAnswers: InstallAnswers = {
  webhook: true,
  telegramToken: '123456789:AAH-test_token_for_keda_lab_unit_0123456',
  telegramChatIds: ['42'],
  workerMinReplicas: 1,
  workerMaxReplicas: 10,
  tasksPerReplica: 2,
  scaleToZero: false,
  apiMinReplicas: 1,
  apiMaxReplicas: 5,
  apiCpuTarget: 70,
  redisReplicas: 3,
  redisPersistence: true,
  monitoring: true,
  expose: 'LoadBalancer',
}
