// First run: ask once whether to put sorryfill in front of Lean's server, and where.

import { hasWrapperFolder, withWrapperFolder, withoutWrapperFolder } from './wrapper'

export type Scope = 'workspace' | 'user'

/** `lean4.envPathExtensions` at one scope (`undefined`: not set there). */
export interface PathSetting {
    get(scope: Scope): readonly string[] | undefined
    set(scope: Scope, value: string[] | undefined): Promise<void>
}

/** The question, answered with a scope, `'no'`, or `undefined` when dismissed. */
export type Ask = (hasWorkspace: boolean) => Promise<Scope | 'no' | undefined>

/** Where the answer is remembered (the extension's global state). */
export interface AnswerStore {
    get(): string | undefined
    set(value: string): Promise<void>
}

export type ConsentOutcome =
    /** The wrapper was already on the setting; nothing was asked. */
    | 'alreadyEnabled'
    /** The user said yes: the folder was put on the setting at `scope`. */
    | { enabled: Scope }
    /** The user said no (or dismissed the question) now or earlier: never asked again. */
    | 'declined'

export interface ConsentDeps {
    folder: string
    setting: PathSetting
    ask: Ask
    answers: AnswerStore
    hasWorkspace: boolean
}

export const DECLINED = 'declined'

/**
 * Runs the first-run flow. `force` (the "enable" command) asks even after a "no".
 * A dismissed question counts as "no": the user is asked once, and the command is the way back.
 */
export async function runConsent(deps: ConsentDeps, force = false): Promise<ConsentOutcome> {
    if (isEnabled(deps.setting, deps.folder)) {
        return 'alreadyEnabled'
    }
    if (!force && deps.answers.get() === DECLINED) {
        return 'declined'
    }
    const answer = await deps.ask(deps.hasWorkspace)
    if (answer === 'workspace' || answer === 'user') {
        const scope = answer === 'workspace' && !deps.hasWorkspace ? 'user' : answer
        // A workspace value replaces the user's list rather than adding to it, so the user's
        // own entries (where their real `lake` may be) are carried over.
        const base =
            scope === 'workspace'
                ? (deps.setting.get('workspace') ?? deps.setting.get('user'))
                : deps.setting.get('user')
        await deps.setting.set(scope, withWrapperFolder(base, deps.folder))
        await deps.answers.set(scope)
        return { enabled: scope }
    }
    await deps.answers.set(DECLINED)
    return 'declined'
}

export function isEnabled(setting: PathSetting, folder: string): boolean {
    return hasWrapperFolder(setting.get('workspace'), folder) || hasWrapperFolder(setting.get('user'), folder)
}

/**
 * Removes the folder from both scopes (an emptied list is unset, leaving the user's settings as
 * they were before). Returns the scopes it was removed from.
 */
export async function removeFromPath(setting: PathSetting, folder: string, answers: AnswerStore): Promise<Scope[]> {
    const removed: Scope[] = []
    for (const scope of ['workspace', 'user'] as const) {
        const entries = setting.get(scope)
        if (!hasWrapperFolder(entries, folder)) {
            continue
        }
        const rest = withoutWrapperFolder(entries, folder)
        await setting.set(scope, rest.length > 0 ? rest : undefined)
        removed.push(scope)
    }
    await answers.set(DECLINED)
    return removed
}
