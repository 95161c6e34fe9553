// The companion extension: puts sorryfill in front of vscode-lean4's own server (never a
// second server), feeds it the `sorryfill.*` settings and API keys through the environment,
// and shows what it is doing.

import { execFile } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import * as vscode from 'vscode'
import { AnswerStore, PathSetting, Scope, isEnabled, removeFromPath, runConsent } from './consent'
import {
    LEAN4_EXTENSION_ID,
    LEAN4_RESTART_COMMAND,
    Lean4Exports,
    LeanClient,
    LeanClientProvider,
    STATUS_METHOD,
} from './lean4'
import { ApiKeys, applyEnvironment, readSettings, serverEnvironment } from './settings'
import { INSTALL_HINT, LocalState, ProxyStatus, parseStatus, statusView } from './status'
import { writeWrappers } from './wrapper'

const PROVER_SECRET = 'sorryfill.prover.apiKey'
const DECOMPOSER_SECRET = 'sorryfill.decomposer.apiKey'
const ANSWER_KEY = 'sorryfill.consent'

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const extension = new Extension(context)
    context.subscriptions.push(extension)
    await extension.start()
}

export function deactivate(): void {}

class Extension implements vscode.Disposable {
    private readonly log = vscode.window.createOutputChannel('sorryfill')
    private readonly item = vscode.window.createStatusBarItem('sorryfill.status', vscode.StatusBarAlignment.Left, 50)
    private readonly folder: string
    private readonly subscriptions: vscode.Disposable[] = []
    private readonly statusByClient = new Map<LeanClient, ProxyStatus>()
    private lastStatus: ProxyStatus | undefined
    private binaryProblem: string | undefined
    private clients: LeanClientProvider | undefined

    constructor(private readonly context: vscode.ExtensionContext) {
        this.folder = path.join(context.globalStorageUri.fsPath, 'bin')
        this.item.name = 'sorryfill'
        // The environment first, before anything awaits: vscode-lean4 copies the extension
        // host's environment when it starts its server, which may be soon.
        this.applySettings()
    }

    async start(): Promise<void> {
        this.item.show()
        this.registerCommands()
        this.subscriptions.push(
            vscode.workspace.onDidChangeConfiguration(e => {
                if (e.affectsConfiguration('sorryfill')) {
                    void this.settingsChanged(e.affectsConfiguration('sorryfill.binaryPath'))
                }
                if (e.affectsConfiguration('lean4.envPathExtensions')) {
                    this.render()
                }
            }),
            vscode.window.onDidChangeActiveTextEditor(() => this.render()),
        )
        try {
            const written = writeWrappers(this.context.asAbsolutePath(path.join('bin', 'lake')), this.folder)
            if (written.length > 0) {
                this.log.appendLine(`wrote the wrappers ${written.join(', ')} to ${this.folder}`)
            }
        } catch (e) {
            this.log.appendLine(`could not write the wrappers to ${this.folder}: ${e}`)
        }
        const keysChanged = await this.applyKeys()
        await this.checkBinary()
        this.render()
        await this.connectToLean(keysChanged)
        // The question waits for the user; activation does not.
        void this.firstRun()
    }

    private async firstRun(): Promise<void> {
        const outcome = await runConsent(this.consentDeps())
        this.log.appendLine(`first run: ${JSON.stringify(outcome)}`)
        if (typeof outcome === 'object') {
            await this.restartLean()
        }
        this.render()
    }

    dispose(): void {
        for (const s of this.subscriptions) {
            s.dispose()
        }
        this.item.dispose()
        this.log.dispose()
    }

    // ---- the environment channel -------------------------------------------------------

    private settings() {
        const config = vscode.workspace.getConfiguration('sorryfill')
        return readSettings(key => config.get(key))
    }

    private keys: ApiKeys = {}

    /** Puts the settings (and the keys read so far) in the environment; whether it changed. */
    private applySettings(): boolean {
        return applyEnvironment(process.env, serverEnvironment(this.settings(), this.keys))
    }

    private async applyKeys(): Promise<boolean> {
        this.keys = {
            prover: await this.context.secrets.get(PROVER_SECRET),
            decomposer: await this.context.secrets.get(DECOMPOSER_SECRET),
        }
        return this.applySettings()
    }

    private async settingsChanged(binaryChanged: boolean): Promise<void> {
        const changed = this.applySettings()
        if (binaryChanged) {
            await this.checkBinary()
            this.render()
        }
        if (changed) {
            await this.offerRestart('sorryfill settings changed.')
        }
    }

    private async offerRestart(why: string): Promise<void> {
        if (!this.enabled() || !this.clients?.getClients().some(c => c.running)) {
            return
        }
        const restart = 'Restart Lean server'
        const choice = await vscode.window.showInformationMessage(
            `${why} They reach sorryfill when Lean's server restarts.`,
            restart,
        )
        if (choice === restart) {
            await this.restartLean()
        }
    }

    // ---- vscode-lean4 ------------------------------------------------------------------

    private async connectToLean(keysArrivedLate: boolean): Promise<void> {
        const lean4 = vscode.extensions.getExtension<Lean4Exports>(LEAN4_EXTENSION_ID)
        if (!lean4) {
            this.log.appendLine('vscode-lean4 is not installed')
            return
        }
        const exports = lean4.isActive ? lean4.exports : await lean4.activate()
        // Resolves once vscode-lean4 found a usable Lean; until then there is no server.
        void exports.lean4EnabledFeatures.then(features => {
            const provider = features.clientProvider
            this.clients = provider
            for (const client of provider.getClients()) {
                this.watch(client)
                // A server started before the API keys were read lacks them: start it again.
                if (keysArrivedLate && client.running && this.enabled()) {
                    void client.restart()
                }
            }
            this.subscriptions.push(
                provider.clientAdded(client => this.watch(client)),
                provider.clientRemoved(client => {
                    this.statusByClient.delete(client)
                    this.render()
                }),
            )
        })
    }

    private watch(client: LeanClient): void {
        this.subscriptions.push(
            client.customNotification(({ method, params }) => {
                if (method !== STATUS_METHOD) {
                    return
                }
                const status = parseStatus(params)
                if (status) {
                    this.statusByClient.set(client, status)
                    this.lastStatus = status
                    this.render()
                }
            }),
            client.restarted(() => {
                this.statusByClient.delete(client)
                this.render()
            }),
        )
    }

    /** Restarts Lean's server through vscode-lean4 (its own command for the active Lean tab). */
    private async restartLean(): Promise<void> {
        await this.waitForPath()
        const active = vscode.window.activeTextEditor?.document.languageId === 'lean4'
        if (active) {
            await vscode.commands.executeCommand(LEAN4_RESTART_COMMAND)
            return
        }
        for (const client of this.clients?.getClients() ?? []) {
            if (client.running) {
                await client.restart()
            }
        }
    }

    /** vscode-lean4 rewrites `PATH` on its own configuration event: let that happen first. */
    private async waitForPath(): Promise<void> {
        const wanted = this.enabled()
        for (let i = 0; i < 40; i++) {
            const onPath = (process.env.PATH ?? '').split(path.delimiter).includes(this.folder)
            if (onPath === wanted) {
                return
            }
            await new Promise(resolve => setTimeout(resolve, 50))
        }
    }

    // ---- consent and the path setting --------------------------------------------------

    private pathSetting(): PathSetting {
        return {
            get: scope => {
                const info = vscode.workspace.getConfiguration('lean4').inspect<string[]>('envPathExtensions')
                return scope === 'workspace' ? info?.workspaceValue : info?.globalValue
            },
            set: async (scope, value) => {
                const target =
                    scope === 'workspace' ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global
                await vscode.workspace.getConfiguration('lean4').update('envPathExtensions', value, target)
            },
        }
    }

    private answers(): AnswerStore {
        return {
            get: () => this.context.globalState.get<string>(ANSWER_KEY),
            set: value => Promise.resolve(this.context.globalState.update(ANSWER_KEY, value)),
        }
    }

    private consentDeps() {
        return {
            folder: this.folder,
            setting: this.pathSetting(),
            answers: this.answers(),
            hasWorkspace: (vscode.workspace.workspaceFolders?.length ?? 0) > 0,
            ask: async (hasWorkspace: boolean): Promise<Scope | 'no' | undefined> => {
                const workspace = 'This workspace'
                const user = 'All workspaces'
                const no = 'No'
                const buttons = hasWorkspace ? [workspace, user, no] : [user, no]
                const choice = await vscode.window.showInformationMessage(
                    'sorryfill can fill `sorry` with proofs Lean itself checked. Put it in front of ' +
                        "Lean's server (lean4.envPathExtensions)?",
                    ...buttons,
                )
                return choice === workspace ? 'workspace' : choice === user ? 'user' : choice === no ? 'no' : undefined
            },
        }
    }

    private enabled(): boolean {
        return isEnabled(this.pathSetting(), this.folder)
    }

    // ---- the binary ---------------------------------------------------------------------

    private binary(): string {
        return this.settings().binaryPath.trim() || 'sorryfill'
    }

    /** Checks that the binary runs; tells the user once, with how to install it, when not. */
    private async checkBinary(): Promise<void> {
        const binary = this.binary()
        const problem = await new Promise<string | undefined>(resolve => {
            execFile(binary, ['--version'], { env: process.env, timeout: 10_000 }, (error, stdout) => {
                if (error) {
                    resolve(error.message)
                } else {
                    this.log.appendLine(`using ${binary}: ${stdout.trim()}`)
                    resolve(undefined)
                }
            })
        })
        const wasMissing = this.binaryProblem !== undefined
        this.binaryProblem = problem
        if (problem !== undefined) {
            this.log.appendLine(`cannot run ${binary}: ${problem}`)
            if (!wasMissing) {
                void vscode.window.showErrorMessage(
                    `sorryfill: cannot run \`${binary}\`, so Lean runs without it. ${INSTALL_HINT}`,
                )
            }
        }
    }

    // ---- the status bar ------------------------------------------------------------------

    private state(): LocalState {
        if (this.binaryProblem !== undefined) {
            return { kind: 'binaryMissing', binary: this.binary() }
        }
        if (!this.enabled()) {
            return { kind: 'notEnabled' }
        }
        const active = this.clients?.getActiveClient()
        const status = (active && this.statusByClient.get(active)) ?? this.lastStatus
        return status ? { kind: 'proxy', status } : { kind: 'waiting' }
    }

    private render(): void {
        const view = statusView(this.state())
        this.item.text = view.text
        this.item.tooltip = view.tooltip
        this.item.command = view.command
        this.item.backgroundColor =
            view.severity === 'error'
                ? new vscode.ThemeColor('statusBarItem.errorBackground')
                : view.severity === 'warning'
                  ? new vscode.ThemeColor('statusBarItem.warningBackground')
                  : undefined
    }

    // ---- commands ------------------------------------------------------------------------

    private registerCommands(): void {
        const register = (id: string, run: () => unknown) =>
            this.subscriptions.push(
                vscode.commands.registerCommand(id, async () => {
                    try {
                        await run()
                    } catch (e) {
                        void vscode.window.showErrorMessage(`sorryfill: ${messageOf(e)}`)
                    }
                }),
            )
        register('sorryfill.proveHole', () => this.proveHole())
        register('sorryfill.proveFile', () => this.proveFile())
        register('sorryfill.cancel', () => this.proxyCommand('sorryfill.cancel', []))
        register('sorryfill.showLog', () => this.showLog())
        register('sorryfill.doctor', () => this.doctor())
        register('sorryfill.enable', async () => {
            const outcome = await runConsent(this.consentDeps(), true)
            if (typeof outcome === 'object') {
                await this.restartLean()
            }
            this.render()
        })
        register('sorryfill.removeFromPath', async () => {
            const removed = await removeFromPath(this.pathSetting(), this.folder, this.answers())
            this.render()
            if (removed.length > 0) {
                await this.restartLean()
                void vscode.window.showInformationMessage(
                    `sorryfill removed from lean4.envPathExtensions (${removed.join(', ')} settings); Lean runs without it.`,
                )
            }
        })
        register('sorryfill.setProverApiKey', () => this.setKey(PROVER_SECRET, 'prover'))
        register('sorryfill.setDecomposerApiKey', () => this.setKey(DECOMPOSER_SECRET, 'decomposer'))
    }

    private activeLeanEditor(): vscode.TextEditor {
        const editor = vscode.window.activeTextEditor
        if (!editor || editor.document.languageId !== 'lean4') {
            throw new Error('open a Lean file first')
        }
        return editor
    }

    private async proveHole(): Promise<void> {
        const editor = this.activeLeanEditor()
        const position = editor.selection.active
        await this.proxyCommand('sorryfill.prove', [
            {
                textDocument: { uri: editor.document.uri.toString() },
                position: { line: position.line, character: position.character },
            },
        ])
    }

    private async proveFile(): Promise<void> {
        const editor = this.activeLeanEditor()
        const result = (await this.proxyCommand('sorryfill.proveFile', [
            { textDocument: { uri: editor.document.uri.toString() } },
        ])) as { holes?: number } | undefined
        if (result?.holes === 0) {
            void vscode.window.showInformationMessage('sorryfill: no hole to prove in this file')
        }
    }

    /** Sends one of the proxy's own commands to the active Lean tab's server. */
    private async proxyCommand(command: string, args: unknown[]): Promise<unknown> {
        if (!this.enabled()) {
            throw new Error('sorryfill is not in front of Lean\'s server: run "sorryfill: Put sorryfill in front of Lean\'s server"')
        }
        const client = this.clients?.getActiveClient() ?? this.clients?.getClients()[0]
        if (!client?.running) {
            throw new Error("Lean's server is not running")
        }
        return client.sendRequest('workspace/executeCommand', { command, arguments: args })
    }

    private async showLog(): Promise<void> {
        const log = this.state().kind === 'proxy' ? this.lastStatus?.log : undefined
        if (log && fs.existsSync(log)) {
            await vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true })
        } else {
            this.log.show(true)
        }
    }

    private async doctor(): Promise<void> {
        const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath
        this.log.show(true)
        this.log.appendLine(`$ ${this.binary()} doctor`)
        await new Promise<void>(resolve => {
            execFile(this.binary(), ['doctor'], { cwd, env: process.env, timeout: 120_000 }, (error, stdout, stderr) => {
                this.log.append(stdout)
                this.log.append(stderr)
                if (error) {
                    this.log.appendLine(`(doctor: ${error.message})`)
                }
                resolve()
            })
        })
    }

    private async setKey(secret: string, role: string): Promise<void> {
        const key = await vscode.window.showInputBox({
            prompt: `The ${role}'s API key (kept in VS Code's secret storage; empty removes it)`,
            password: true,
            ignoreFocusOut: true,
        })
        if (key === undefined) {
            return
        }
        if (key === '') {
            await this.context.secrets.delete(secret)
        } else {
            await this.context.secrets.store(secret, key)
        }
        if (await this.applyKeys()) {
            await this.offerRestart(`The ${role}'s API key changed.`)
        }
    }
}

function messageOf(e: unknown): string {
    if (e instanceof Error) {
        return e.message
    }
    if (typeof e === 'object' && e !== null && 'message' in e) {
        return String((e as { message: unknown }).message)
    }
    return String(e)
}
