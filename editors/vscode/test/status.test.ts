import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseStatus, statusView } from '../src/status'

const base = { holes: 3, proving: 0, ready: 0, failed: 0, message: '', log: '/tmp/serve.log' }

test('proving shows settled holes out of all holes and a click cancels', () => {
    const status = parseStatus({ ...base, state: 'proving', proving: 1, ready: 1, failed: 1, message: 'proving 1/3 holes' })
    const view = statusView({ kind: 'proxy', status: status! })
    assert.match(view.text, /sorryfill 2\/3/)
    assert.equal(view.command, 'sorryfill.cancel')
    assert.match(view.tooltip, /proving 1\/3 holes/)
    assert.match(view.tooltip, /\/tmp\/serve\.log/)
})

test('each proxy state looks different to the user', () => {
    const texts = (['idle', 'proving', 'ready', 'unreachable', 'off'] as const).map(
        state => statusView({ kind: 'proxy', status: parseStatus({ ...base, state, ready: 2 })! }).text,
    )
    assert.equal(new Set(texts).size, texts.length, texts.join(' | '))
    assert.match(texts[2], /2 proofs ready/)
    assert.match(texts[3], /unreachable/)
})

test('off says why, from the proxy\'s message, and is coloured as an error', () => {
    const view = statusView({
        kind: 'proxy',
        status: parseStatus({ ...base, state: 'off', message: 'off: sorryfill.toml: unknown key x' })!,
    })
    assert.match(view.text, /off/)
    assert.match(view.tooltip, /unknown key x/)
    assert.equal(view.severity, 'error')
})

test('an unreachable endpoint is a warning that leads to the doctor', () => {
    const view = statusView({ kind: 'proxy', status: parseStatus({ ...base, state: 'unreachable', message: 'prover at http://h/v1 does not answer' })! })
    assert.equal(view.severity, 'warning')
    assert.equal(view.command, 'sorryfill.doctor')
    assert.match(view.tooltip, /http:\/\/h\/v1/)
})

test('one proof ready is singular', () => {
    assert.match(statusView({ kind: 'proxy', status: parseStatus({ ...base, state: 'ready', ready: 1 })! }).text, /1 proof ready/)
})

test('what the proxy did not send is not invented', () => {
    assert.equal(parseStatus(undefined), undefined)
    assert.equal(parseStatus({ state: 'exploded' }), undefined)
    const partial = parseStatus({ state: 'idle', holes: -4, proving: 'x' })!
    assert.deepEqual(partial, { state: 'idle', holes: 0, proving: 0, ready: 0, failed: 0, message: '', log: undefined })
})

test('without the proxy: not set up, binary missing (with how to install), waiting', () => {
    const notEnabled = statusView({ kind: 'notEnabled' })
    assert.match(notEnabled.text, /sorryfill off/)
    assert.equal(notEnabled.command, 'sorryfill.enable')
    const missing = statusView({ kind: 'binaryMissing', binary: 'sorryfill' })
    assert.match(missing.tooltip, /cargo install --locked --path server/)
    assert.equal(missing.severity, 'error')
    assert.notEqual(statusView({ kind: 'waiting' }).text, notEnabled.text)
})
