#!/usr/bin/env node
// Runs the TypeScript sources directly (oclif registers tsx, a devDependency, in development mode).
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
