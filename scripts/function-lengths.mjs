#!/usr/bin/env node
/**
 * The longest functions of some TypeScript files, in lines (first to last line of the function,
 * inner functions included: a closure counts everything it closes over). Issue 16 §2.5 measures
 * "no function over about 80 lines" with it:
 *   node scripts/function-lengths.mjs $(find src/services -name '*.ts')
 * TOP=n changes how many are listed (default 15).
 */
import {readFileSync} from 'node:fs'

import ts from 'typescript'

const rows = []
for (const file of process.argv.slice(2)) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const lineOf = (position) => source.getLineAndCharacterOfPosition(position).line
  const nameOf = (node) => {
    if (node.name) return node.name.getText(source)
    const parent = node.parent
    if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(source)
    if (ts.isCallExpression(parent)) return `(argument of ${parent.expression.getText(source).slice(0, 40)})`
    return '(anonymous)'
  }
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = lineOf(node.getStart(source))
      rows.push({lines: lineOf(node.getEnd()) - first + 1, name: nameOf(node), where: `${file}:${first + 1}`})
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}
rows.sort((a, b) => b.lines - a.lines)
for (const row of rows.slice(0, Number(process.env.TOP ?? 15))) console.log(`${String(row.lines).padStart(5)}  ${row.name}  ${row.where}`)
