// The part of vscode-lean4's exported API (0.0.239, `src/exports.ts`) this extension uses.
// Declared structurally: vscode-lean4 publishes no types package.

import type { Disposable, Event } from 'vscode'

export interface LeanClient {
    running: boolean
    customNotification: Event<{ method: string; params: unknown }>
    restarted: Event<unknown>
    stopped: Event<unknown>
    sendRequest(method: string, params: unknown): Promise<unknown>
    restart(): Promise<void>
}

export interface LeanClientProvider {
    getClients(): LeanClient[]
    getActiveClient(): LeanClient | undefined
    clientAdded: Event<LeanClient>
    clientRemoved: Event<LeanClient>
}

export interface Lean4Exports {
    lean4EnabledFeatures: Promise<{ clientProvider: LeanClientProvider }>
}

export const LEAN4_EXTENSION_ID = 'leanprover.lean4'
export const LEAN4_RESTART_COMMAND = 'lean4.restartServer'
export const STATUS_METHOD = '$/sorryfill/status'

export type { Disposable }
