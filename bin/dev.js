#!/usr/bin/env node
// Runs the TypeScript sources directly (oclif registers tsx, a devDependency, in development mode).
// The published CLI is a bundle whose command list scripts/bundle.mjs generates into dist/; here the
// sources are the truth, so package.json's oclif section is read with the bundle's parts swapped
// for their sources: commands found by file under src/commands (the "pattern" strategy) and `help`
// from @oclif/plugin-help in node_modules. ignoreManifest: oclif.manifest.json describes the last
// build, not the sources being edited.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {execute} from '@oclif/core'

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
pjson.oclif = {...pjson.oclif, commands: './src/commands', plugins: ['@oclif/plugin-help']}

const root = fileURLToPath(new URL('..', import.meta.url))

await execute({development: true, dir: import.meta.url, loadOptions: {root, ignoreManifest: true, pjson}})
