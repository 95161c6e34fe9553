// What the proxy receives from the `sorryfill.*` settings and the secret storage.
//
// vscode-lean4 owns the server's initialization options and starts it with a copy of the
// extension host's environment, so the environment is the one channel into `sorryfill serve`:
// `SORRYFILL_SETTINGS` (a JSON object shaped like `sorryfill.toml`, applied over it), `SORRYFILL`
// (the binary the wrapper runs) and the API keys, each in its own variable that the settings name
// through `api_key_env`. A key never appears in the settings object itself.

/** The `sorryfill.*` settings as the user set them; empty strings and `null` mean "unset". */
export interface ExtensionSettings {
    binaryPath: string
    prover: EndpointSettings
    decomposer: EndpointSettings
    samples: number | null
    onSave: 'default' | 'apply' | 'offer'
    tactics: string[] | null
    allowNativeDecide: boolean | null
}

export interface EndpointSettings {
    endpoint: string
    model: string
    format: string
}

/** API keys from VS Code's secret storage. */
export interface ApiKeys {
    prover?: string
    decomposer?: string
}

export const SETTINGS_VAR = 'SORRYFILL_SETTINGS'
export const BINARY_VAR = 'SORRYFILL'
export const PROVER_KEY_VAR = 'SORRYFILL_PROVER_API_KEY'
export const DECOMPOSER_KEY_VAR = 'SORRYFILL_DECOMPOSER_API_KEY'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * The `SORRYFILL_SETTINGS` object: only what the user set, so `sorryfill.toml` keeps deciding
 * everything else. Keys are `sorryfill.toml`'s own (snake_case).
 */
export function proxySettings(settings: ExtensionSettings, keys: ApiKeys): { [key: string]: Json } {
    const out: { [key: string]: Json } = {}
    const prover = endpointSettings(settings.prover, keys.prover, PROVER_KEY_VAR)
    if (prover) {
        out.prover = prover
    }
    const decomposer = endpointSettings(settings.decomposer, keys.decomposer, DECOMPOSER_KEY_VAR)
    if (decomposer) {
        out.decomposer = decomposer
    }
    if (typeof settings.samples === 'number' && Number.isInteger(settings.samples) && settings.samples > 0) {
        out.budget = { samples_per_hole: settings.samples }
    }
    if (settings.onSave === 'apply' || settings.onSave === 'offer') {
        out.editor = { apply_on_save: settings.onSave === 'apply' }
    }
    const tactics = (settings.tactics ?? []).map(t => t.trim()).filter(t => t.length > 0)
    if (tactics.length > 0) {
        out.tactics = { list: tactics }
    }
    if (typeof settings.allowNativeDecide === 'boolean') {
        out.verify = { allow_native_decide: settings.allowNativeDecide }
    }
    return out
}

function endpointSettings(
    endpoint: EndpointSettings,
    key: string | undefined,
    keyVar: string,
): { [key: string]: Json } | undefined {
    const out: { [key: string]: Json } = {}
    if (endpoint.endpoint.trim()) {
        out.base_url = endpoint.endpoint.trim()
    }
    if (endpoint.model.trim()) {
        out.model = endpoint.model.trim()
    }
    if (endpoint.format.trim()) {
        out.format = endpoint.format.trim()
    }
    if (key) {
        out.api_key_env = keyVar
    }
    return Object.keys(out).length > 0 ? out : undefined
}

/**
 * The variables to put in the server's environment; `undefined` removes a variable, so a key
 * deleted from the secret storage or a cleared setting stops reaching the next server.
 */
export function serverEnvironment(settings: ExtensionSettings, keys: ApiKeys): Record<string, string | undefined> {
    const object = proxySettings(settings, keys)
    return {
        [SETTINGS_VAR]: Object.keys(object).length > 0 ? JSON.stringify(object) : undefined,
        [BINARY_VAR]: settings.binaryPath.trim() || undefined,
        [PROVER_KEY_VAR]: keys.prover || undefined,
        [DECOMPOSER_KEY_VAR]: keys.decomposer || undefined,
    }
}

/** Sets (or deletes) each variable of `vars` in `env`; returns whether anything changed. */
export function applyEnvironment(env: NodeJS.ProcessEnv, vars: Record<string, string | undefined>): boolean {
    let changed = false
    for (const [name, value] of Object.entries(vars)) {
        if (value === undefined) {
            if (name in env) {
                delete env[name]
                changed = true
            }
        } else if (env[name] !== value) {
            env[name] = value
            changed = true
        }
    }
    return changed
}

/** Reads the settings through `get` (VS Code's `WorkspaceConfiguration.get` in the extension). */
export function readSettings(get: (key: string) => unknown): ExtensionSettings {
    const text = (key: string): string => {
        const value = get(key)
        return typeof value === 'string' ? value : ''
    }
    const onSave = get('onSave')
    const samples = get('samples')
    const tactics = get('tactics')
    const allowNativeDecide = get('allowNativeDecide')
    return {
        binaryPath: text('binaryPath'),
        prover: { endpoint: text('prover.endpoint'), model: text('prover.model'), format: text('prover.format') },
        decomposer: {
            endpoint: text('decomposer.endpoint'),
            model: text('decomposer.model'),
            format: text('decomposer.format'),
        },
        samples: typeof samples === 'number' ? samples : null,
        onSave: onSave === 'apply' || onSave === 'offer' ? onSave : 'default',
        tactics: Array.isArray(tactics) ? tactics.filter((t): t is string => typeof t === 'string') : null,
        allowNativeDecide: typeof allowNativeDecide === 'boolean' ? allowNativeDecide : null,
    }
}
