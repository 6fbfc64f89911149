#!/usr/bin/env node
// dist/ is one bundle (scripts/bundle.mjs): @oclif/core comes from it, so the published package has
// no runtime dependency to install. enableAutoTranspile false: oclif otherwise swaps dist/ for the
// TypeScript sources when NODE_ENV is test or development and a tsconfig.json sits beside them (a
// checkout); this entry point always runs the bundle, bin/dev.js the sources.
import {execute, settings} from '../dist/run.js'

settings.enableAutoTranspile = false

await execute({dir: import.meta.url})
