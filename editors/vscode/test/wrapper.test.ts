import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'
import { hasWrapperFolder, withWrapperFolder, withoutWrapperFolder, writeWrappers } from '../src/wrapper'

// The repository's wrapper, which the .vsix ships as bin/lake.
const BUNDLED = path.resolve(__dirname, '..', '..', 'bin', 'lake')

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), 'sorryfill-wrapper-'))
}

function tool(dir: string, name: string, body: string): void {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 })
}

test('writes executable lake and lean copies of the bundled wrapper, and only rewrites what changed', () => {
    const dir = path.join(tempDir(), 'storage', 'bin')
    assert.deepEqual(writeWrappers(BUNDLED, dir), ['lake', 'lean'])
    for (const name of ['lake', 'lean']) {
        const file = path.join(dir, name)
        assert.ok(fs.lstatSync(file).isFile(), `${name} is a plain file (a .vsix keeps no symlinks)`)
        assert.equal(fs.statSync(file).mode & 0o755, 0o755)
        assert.deepEqual(fs.readFileSync(file), fs.readFileSync(BUNDLED))
    }
    assert.deepEqual(writeWrappers(BUNDLED, dir), [])
    fs.writeFileSync(path.join(dir, 'lean'), 'stale')
    assert.deepEqual(writeWrappers(BUNDLED, dir), ['lean'])
    assert.deepEqual(fs.readdirSync(dir).sort(), ['lake', 'lean'], 'no temporary file is left behind')
})

test('the written wrappers send the server through sorryfill and everything else to the real tool', () => {
    const root = tempDir()
    const wrappers = path.join(root, 'wrappers')
    const real = path.join(root, 'real')
    fs.mkdirSync(real)
    const log = path.join(root, 'log')
    tool(real, 'lake', `echo "real-lake $*" >> '${log}'`)
    tool(real, 'lean', `echo "real-lean $*" >> '${log}'`)
    tool(real, 'sorryfill', `echo "sorryfill $*" >> '${log}'`)
    writeWrappers(BUNDLED, wrappers)
    const env = { PATH: `${wrappers}:${real}:/usr/bin:/bin`, HOME: root }
    const run = (name: string, args: string[]) =>
        execFileSync(path.join(wrappers, name), args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    run('lake', ['--version'])
    run('lake', ['+leanprover/lean4:v4.9.0', 'serve', '--', root])
    run('lean', ['--server', root])
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n')
    assert.deepEqual(lines, [
        'real-lake --version',
        `sorryfill serve -- ${real}/lake +leanprover/lean4:v4.9.0 serve -- ${root}`,
        `sorryfill serve -- ${real}/lean --server ${root}`,
    ])
})

test('the wrapper folder goes first on the path list, once, and comes out again', () => {
    const folder = '/s/bin'
    assert.deepEqual(withWrapperFolder(undefined, folder), [folder])
    assert.deepEqual(withWrapperFolder(['/a', '/s/bin/', '/b'], folder), [folder, '/a', '/b'])
    assert.deepEqual(withoutWrapperFolder(['/a', '/s/bin', '/b'], folder), ['/a', '/b'])
    assert.equal(hasWrapperFolder(['/s/./bin'], folder), true)
    assert.equal(hasWrapperFolder(['/s/bin2'], folder), false)
})
