import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AnswerStore, DECLINED, PathSetting, Scope, removeFromPath, runConsent } from '../src/consent'

const FOLDER = '/home/u/.vscode/globalStorage/sorryfill/bin'

function fakeSetting(initial: Partial<Record<Scope, string[]>> = {}): PathSetting & { values: Partial<Record<Scope, string[]>> } {
    const values: Partial<Record<Scope, string[]>> = { ...initial }
    return {
        values,
        get: scope => values[scope],
        set: async (scope, value) => {
            if (value === undefined) {
                delete values[scope]
            } else {
                values[scope] = value
            }
        },
    }
}

function fakeAnswers(initial?: string): AnswerStore & { value?: string } {
    const store: AnswerStore & { value?: string } = {
        value: initial,
        get: () => store.value,
        set: async value => {
            store.value = value
        },
    }
    return store
}

function asker(answer: Scope | 'no' | undefined) {
    const calls: boolean[] = []
    const ask = async (hasWorkspace: boolean) => {
        calls.push(hasWorkspace)
        return answer
    }
    return { ask, calls }
}

test('yes for this workspace puts the wrapper first on the workspace setting, keeping the user\'s entries', async () => {
    const setting = fakeSetting({ workspace: ['/opt/tools'], user: ['/usr/local/elan'] })
    const { ask, calls } = asker('workspace')
    const outcome = await runConsent({ folder: FOLDER, setting, ask, answers: fakeAnswers(), hasWorkspace: true })
    assert.deepEqual(outcome, { enabled: 'workspace' })
    assert.deepEqual(setting.values.workspace, [FOLDER, '/opt/tools'])
    assert.deepEqual(setting.values.user, ['/usr/local/elan'])
    assert.deepEqual(calls, [true])
})

test('a new workspace list keeps the user\'s own entries, since it replaces the user list', async () => {
    const setting = fakeSetting({ user: ['/home/u/lean-tools'] })
    await runConsent({ folder: FOLDER, setting, ask: asker('workspace').ask, answers: fakeAnswers(), hasWorkspace: true })
    assert.deepEqual(setting.values.workspace, [FOLDER, '/home/u/lean-tools'])
    assert.deepEqual(setting.values.user, ['/home/u/lean-tools'])
})

test('yes for all workspaces writes the user setting', async () => {
    const setting = fakeSetting()
    const outcome = await runConsent({ folder: FOLDER, setting, ask: asker('user').ask, answers: fakeAnswers(), hasWorkspace: true })
    assert.deepEqual(outcome, { enabled: 'user' })
    assert.deepEqual(setting.values, { user: [FOLDER] })
})

test('asked once: after a no (or a dismissed question) nothing is asked again on the next start', async () => {
    for (const answer of ['no', undefined] as const) {
        const setting = fakeSetting()
        const answers = fakeAnswers()
        const first = asker(answer)
        assert.equal(await runConsent({ folder: FOLDER, setting, ask: first.ask, answers, hasWorkspace: true }), 'declined')
        assert.equal(answers.value, DECLINED)
        const second = asker('workspace')
        assert.equal(await runConsent({ folder: FOLDER, setting, ask: second.ask, answers, hasWorkspace: true }), 'declined')
        assert.deepEqual(second.calls, [])
        assert.deepEqual(setting.values, {})
    }
})

test('the enable command asks again after a no', async () => {
    const setting = fakeSetting()
    const outcome = await runConsent(
        { folder: FOLDER, setting, ask: asker('user').ask, answers: fakeAnswers(DECLINED), hasWorkspace: true },
        true,
    )
    assert.deepEqual(outcome, { enabled: 'user' })
})

test('already on the setting (at either scope): nothing is asked or written', async () => {
    const setting = fakeSetting({ user: ['/x', FOLDER + '/'] })
    const { ask, calls } = asker('workspace')
    assert.equal(await runConsent({ folder: FOLDER, setting, ask, answers: fakeAnswers(), hasWorkspace: true }), 'alreadyEnabled')
    assert.deepEqual(calls, [])
    assert.deepEqual(setting.values, { user: ['/x', FOLDER + '/'] })
})

test('without a workspace folder a "workspace" answer lands in the user setting', async () => {
    const setting = fakeSetting()
    const { ask, calls } = asker('workspace')
    assert.deepEqual(await runConsent({ folder: FOLDER, setting, ask, answers: fakeAnswers(), hasWorkspace: false }), { enabled: 'user' })
    assert.deepEqual(calls, [false])
})

test('remove takes the folder out of both scopes, unsets an emptied list, and is remembered', async () => {
    const setting = fakeSetting({ workspace: [FOLDER], user: ['/a', FOLDER, '/b'] })
    const answers = fakeAnswers('workspace')
    assert.deepEqual(await removeFromPath(setting, FOLDER, answers), ['workspace', 'user'])
    assert.deepEqual(setting.values, { user: ['/a', '/b'] })
    assert.equal(answers.value, DECLINED)
    assert.deepEqual(await removeFromPath(setting, FOLDER, answers), [])
})
