// The status bar item: what the proxy says in `$/sorryfill/status`, or why it says nothing.

export type ProxyState = 'idle' | 'proving' | 'ready' | 'unreachable' | 'off'

/** The `$/sorryfill/status` notification's parameters (docs/editor-protocol.md). */
export interface ProxyStatus {
    state: ProxyState
    holes: number
    proving: number
    ready: number
    failed: number
    message: string
    log?: string
}

/** What the extension knows besides the proxy's own word. */
export type LocalState =
    | { kind: 'proxy'; status: ProxyStatus }
    /** The wrapper is not on `lean4.envPathExtensions`: Lean runs without sorryfill. */
    | { kind: 'notEnabled' }
    /** The `sorryfill` binary cannot be run. */
    | { kind: 'binaryMissing'; binary: string }
    /** Enabled, but the server has not spoken yet (starting, or not behind sorryfill). */
    | { kind: 'waiting' }

export interface StatusView {
    text: string
    tooltip: string
    /** `warning` and `error` colour the item's background. */
    severity: 'normal' | 'warning' | 'error'
    /** The command a click runs. */
    command: string
}

const STATES: readonly ProxyState[] = ['idle', 'proving', 'ready', 'unreachable', 'off']

/** The notification's parameters, or `undefined` when they are not a status object. */
export function parseStatus(params: unknown): ProxyStatus | undefined {
    if (typeof params !== 'object' || params === null) {
        return undefined
    }
    const p = params as Record<string, unknown>
    if (typeof p.state !== 'string' || !STATES.includes(p.state as ProxyState)) {
        return undefined
    }
    const count = (value: unknown): number =>
        typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0
    return {
        state: p.state as ProxyState,
        holes: count(p.holes),
        proving: count(p.proving),
        ready: count(p.ready),
        failed: count(p.failed),
        message: typeof p.message === 'string' ? p.message : '',
        log: typeof p.log === 'string' && p.log.length > 0 ? p.log : undefined,
    }
}

/** The status bar item for a state. */
export function statusView(state: LocalState): StatusView {
    switch (state.kind) {
        case 'notEnabled':
            return {
                text: '$(circle-slash) sorryfill off',
                tooltip: 'sorryfill off: its wrapper is not on lean4.envPathExtensions. Click to set it up.',
                severity: 'normal',
                command: 'sorryfill.enable',
            }
        case 'binaryMissing':
            return {
                text: '$(error) sorryfill off',
                tooltip: `sorryfill off: cannot run \`${state.binary}\`. ${INSTALL_HINT}`,
                severity: 'error',
                command: 'sorryfill.showLog',
            }
        case 'waiting':
            return {
                text: '$(loading~spin) sorryfill',
                tooltip: 'sorryfill: waiting for the Lean server to start behind sorryfill',
                severity: 'normal',
                command: 'sorryfill.showLog',
            }
        case 'proxy':
            return proxyView(state.status)
    }
}

function proxyView(status: ProxyStatus): StatusView {
    const tooltip = [status.message, status.log ? `log: ${status.log}` : ''].filter(s => s).join('\n')
    switch (status.state) {
        case 'idle':
            return {
                text: '$(check) sorryfill',
                tooltip: tooltip || 'sorryfill: idle',
                severity: 'normal',
                command: 'sorryfill.proveFile',
            }
        case 'proving': {
            // k/n: holes settled (a proof ready, or given up) out of all the holes.
            const done = Math.min(status.holes, status.ready + status.failed)
            return {
                text: `$(sync~spin) sorryfill ${done}/${status.holes}`,
                tooltip: tooltip || `sorryfill: proving ${done}/${status.holes} holes`,
                severity: 'normal',
                command: 'sorryfill.cancel',
            }
        }
        case 'ready':
            return {
                text: `$(lightbulb) sorryfill: ${status.ready} ${status.ready === 1 ? 'proof' : 'proofs'} ready`,
                tooltip: tooltip || 'sorryfill: verified proofs are waiting in the quick fixes',
                severity: 'normal',
                command: 'editor.action.quickFix',
            }
        case 'unreachable':
            return {
                text: '$(debug-disconnect) sorryfill: endpoint unreachable',
                tooltip: tooltip || 'sorryfill: a model endpoint does not answer',
                severity: 'warning',
                command: 'sorryfill.doctor',
            }
        case 'off':
            return {
                text: '$(circle-slash) sorryfill off',
                tooltip: tooltip || 'sorryfill is off for this session',
                severity: 'error',
                command: 'sorryfill.showLog',
            }
    }
}

export const INSTALL_HINT =
    'Install it with `cargo install --locked --path server` from the sorryfill repository, ' +
    'or set `sorryfill.binaryPath` to the program.'
