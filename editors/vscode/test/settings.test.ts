import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
    DECOMPOSER_KEY_VAR,
    ExtensionSettings,
    PROVER_KEY_VAR,
    SETTINGS_VAR,
    applyEnvironment,
    proxySettings,
    readSettings,
    serverEnvironment,
} from '../src/settings'

const UNSET: ExtensionSettings = readSettings(() => undefined)

function withSettings(overrides: Partial<ExtensionSettings>): ExtensionSettings {
    return { ...UNSET, ...overrides }
}

test('nothing set: the proxy gets no settings variable, so sorryfill.toml decides everything', () => {
    const env = serverEnvironment(UNSET, {})
    assert.equal(env[SETTINGS_VAR], undefined)
    assert.deepEqual(proxySettings(UNSET, {}), {})
})

test('every setting reaches the proxy under sorryfill.toml keys', () => {
    const settings = readSettings(
        key =>
            ({
                binaryPath: '/opt/sorryfill/bin/sorryfill',
                'prover.endpoint': ' http://127.0.0.1:8000/v1 ',
                'prover.model': 'deepseek-prover',
                'prover.format': 'deepseek-prover-v2',
                'decomposer.endpoint': 'http://127.0.0.1:8001/v1',
                'decomposer.model': 'planner',
                'decomposer.format': 'decomposer',
                samples: 8,
                onSave: 'apply',
                tactics: ['omega', ' ', 'simp'],
                allowNativeDecide: true,
            })[key],
    )
    const env = serverEnvironment(settings, {})
    assert.deepEqual(JSON.parse(env[SETTINGS_VAR]!), {
        prover: { base_url: 'http://127.0.0.1:8000/v1', model: 'deepseek-prover', format: 'deepseek-prover-v2' },
        decomposer: { base_url: 'http://127.0.0.1:8001/v1', model: 'planner', format: 'decomposer' },
        budget: { samples_per_hole: 8 },
        editor: { apply_on_save: true },
        tactics: { list: ['omega', 'simp'] },
        verify: { allow_native_decide: true },
    })
    assert.equal(env.SORRYFILL, '/opt/sorryfill/bin/sorryfill')
})

test('on-save "offer" turns applying off even when sorryfill.toml turns it on; "default" leaves it', () => {
    assert.deepEqual(proxySettings(withSettings({ onSave: 'offer' }), {}).editor, { apply_on_save: false })
    assert.equal(proxySettings(withSettings({ onSave: 'default' }), {}).editor, undefined)
})

test('an explicit false for native_decide is passed on; an unset one is not', () => {
    assert.deepEqual(proxySettings(withSettings({ allowNativeDecide: false }), {}).verify, { allow_native_decide: false })
    assert.equal(proxySettings(withSettings({ allowNativeDecide: null }), {}).verify, undefined)
})

test('API keys travel only as their own environment variables, named in the settings', () => {
    const settings = withSettings({ prover: { endpoint: 'http://h/v1', model: 'm', format: '' } })
    const keys = { prover: 'sk-prover-secret', decomposer: 'sk-decomposer-secret' }
    const env = serverEnvironment(settings, keys)
    assert.equal(env[PROVER_KEY_VAR], 'sk-prover-secret')
    assert.equal(env[DECOMPOSER_KEY_VAR], 'sk-decomposer-secret')
    const json = env[SETTINGS_VAR]!
    assert.ok(!json.includes('sk-'), `a key leaked into ${json}`)
    const object = JSON.parse(json)
    assert.equal(object.prover.api_key_env, PROVER_KEY_VAR)
    // A key alone (endpoint from sorryfill.toml) still names its variable.
    assert.equal(object.decomposer.api_key_env, DECOMPOSER_KEY_VAR)
})

test('invalid setting values are left to sorryfill.toml instead of being sent', () => {
    const settings = readSettings(key => ({ samples: 0, onSave: 'sometimes', tactics: 'omega', allowNativeDecide: 'yes' })[key])
    assert.deepEqual(proxySettings(settings, {}), {})
})

test('applying the environment sets, replaces and removes variables and says whether it changed', () => {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin', [PROVER_KEY_VAR]: 'old' }
    assert.equal(applyEnvironment(env, { [SETTINGS_VAR]: '{}', [PROVER_KEY_VAR]: undefined }), true)
    assert.deepEqual(env, { PATH: '/usr/bin', [SETTINGS_VAR]: '{}' })
    assert.equal(applyEnvironment(env, { [SETTINGS_VAR]: '{}', [PROVER_KEY_VAR]: undefined }), false)
})
