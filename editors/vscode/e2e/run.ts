// End-to-end test in real VS Code: code-server (VS Code for the web), the real vscode-lean4
// .vsix, this extension's .vsix, and headless Chromium driven by playwright-core. lean-sim
// stands in for `lake serve`, reached through this extension's wrappers and `sorryfill serve`.
//
// Inputs (environment): SORRYFILL (the binary), LEAN_SIM, LEAN4_VSIX, SORRYFILL_VSIX,
// CODE_SERVER, NODE24_BIN (a folder holding Node 24, which code-server needs), CHROMIUM,
// E2E_OUTPUT (screenshots and logs). Prints `N passed, N failed` and exits non-zero on a failure.

import { ChildProcess, execFileSync, spawn } from 'child_process'
import * as fs from 'fs'
import * as net from 'net'
import * as os from 'os'
import * as path from 'path'
import { Page, chromium } from 'playwright-core'

const SOURCE = `theorem add_zero' (x : Nat) : x + 0 = x := by
  sorry

theorem zero_add' (x : Nat) : 0 + x = x := by
  sorry
`

// lean-sim's verdicts. `simp_arith` is not in sorryfill's default tactic list: a proof using it
// shows that the `sorryfill.tactics` setting reached the proxy.
const ORACLE = `
[[theorem]]
statement = "(x : Nat) : x + 0 = x"
accept = ["simp_arith"]

[[theorem]]
statement = "(x : Nat) : 0 + x = x"
accept = ["simp_arith"]
`

function required(name: string): string {
    const value = process.env[name]
    if (!value) {
        throw new Error(`${name} is not set`)
    }
    return value
}

const env = {
    sorryfill: required('SORRYFILL'),
    leanSim: required('LEAN_SIM'),
    lean4Vsix: required('LEAN4_VSIX'),
    sorryfillVsix: required('SORRYFILL_VSIX'),
    codeServer: required('CODE_SERVER'),
    node24Bin: required('NODE24_BIN'),
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    output: required('E2E_OUTPUT'),
}

const results: { name: string; ok: boolean; detail?: string }[] = []
let shot = 0

function write(file: string, text: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text, { mode })
}

/** lean-sim's flags, for every server it runs as. Its logs go below `.lake/sorryfill/`, the one
 * folder the confined checking server may write to; `{pid}` keeps the two servers apart. */
function leanSimEnv(root: string, project: string): NodeJS.ProcessEnv {
    return {
        LEAN_SIM_ORACLE: path.join(root, 'oracle.toml'),
        LEAN_SIM_LEAN_VERSION: '4.22.0',
        LEAN_SIM_DECL_MS: '300',
        LEAN_SIM_LOG: path.join(leanSimLogs(project), 'lean-sim-{pid}.log'),
    }
}

function leanSimLogs(project: string): string {
    return path.join(project, '.lake', 'sorryfill')
}

/** The lines lean-sim logged so far, over both servers. */
function leanSimLog(project: string): string {
    const folder = leanSimLogs(project)
    if (!fs.existsSync(folder)) {
        return ''
    }
    return fs
        .readdirSync(folder)
        .filter(name => name.startsWith('lean-sim-'))
        .map(name => fs.readFileSync(path.join(folder, name), 'utf8'))
        .join('')
}

/** A Lake-shaped project, the `lake`/`lean` stand-ins, and an empty home. */
function makeFixture(root: string) {
    const project = path.join(root, 'Demo')
    write(path.join(project, 'lakefile.toml'), 'name = "Demo"\n\n[[lean_lib]]\nname = "Demo"\n')
    write(path.join(project, 'lean-toolchain'), 'leanprover/lean4:v4.22.0\n')
    write(path.join(project, 'Demo.lean'), SOURCE)
    write(path.join(root, 'oracle.toml'), ORACLE)
    const tools = path.join(root, 'tools')
    // vscode-lean4 runs `lake --version`, `lean --version` (it wants `version X.Y.Z`) and then
    // `lake serve -- <folder>`. lean-sim answers all three when linked as `lake` and `lean`, as
    // elan's proxies are: a link, not a script, so sorryfill's confined checking server may run
    // it. Its flags travel in the environment (`leanSimEnv`).
    fs.mkdirSync(tools, { recursive: true })
    for (const name of ['lake', 'lean']) {
        fs.symlinkSync(env.leanSim, path.join(tools, name))
    }
    const home = path.join(root, 'home')
    const userData = path.join(root, 'user-data')
    write(
        path.join(userData, 'User', 'settings.json'),
        JSON.stringify(
            {
                'lean4.showSetupWarnings': false,
                // Where this "user" keeps Lean: the consent must keep it when it adds sorryfill.
                'lean4.envPathExtensions': [tools],
                'security.workspace.trust.enabled': false,
                'workbench.startupEditor': 'none',
                'workbench.tips.enabled': false,
                'extensions.ignoreRecommendations': true,
                'telemetry.telemetryLevel': 'off',
                'chat.disableAIFeatures': true,
                'workbench.secondarySideBar.defaultVisibility': 'hidden',
                'sorryfill.binaryPath': env.sorryfill,
                'sorryfill.onSave': 'apply',
                'sorryfill.tactics': ['rfl', 'simp_arith'],
            },
            null,
            2,
        ),
    )
    fs.mkdirSync(home, { recursive: true })
    return { project, tools, home, userData, extensions: path.join(root, 'extensions') }
}

/** vscode-lean4 depends on tamasfe.even-better-toml, which no registry here ships: an empty stand-in. */
function evenBetterTomlStandIn(root: string): string {
    const vsix = path.join(root, 'even-better-toml.vsix')
    const manifest = JSON.stringify({
        name: 'even-better-toml',
        publisher: 'tamasfe',
        version: '0.0.1',
        engines: { vscode: '*' },
    })
    execFileSync('python3', [
        '-c',
        'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.writestr("extension/package.json", sys.argv[2])',
        vsix,
        manifest,
    ])
    return vsix
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer()
        server.listen(0, '127.0.0.1', () => {
            const address = server.address()
            server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
        })
    })
}

function canConnect(port: number): Promise<boolean> {
    return new Promise(resolve => {
        const socket = net.connect(port, '127.0.0.1')
        socket.once('connect', () => {
            socket.destroy()
            resolve(true)
        })
        socket.once('error', () => resolve(false))
    })
}

async function check(name: string, run: () => Promise<void>, page?: Page): Promise<boolean> {
    const started = Date.now()
    try {
        await run()
        results.push({ name, ok: true })
        console.log(`ok: ${name} (${Date.now() - started} ms)`)
    } catch (e) {
        const detail = e instanceof Error ? e.message.split('\n')[0] : String(e)
        results.push({ name, ok: false, detail })
        console.log(`FAILED: ${name}: ${detail}`)
    }
    if (page) {
        shot += 1
        const file = path.join(env.output, `${String(shot).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`)
        await page.screenshot({ path: file }).catch(() => undefined)
    }
    return results[results.length - 1].ok
}

/** The editor's text as rendered (Monaco draws spaces as non-breaking ones). */
async function editorText(page: Page): Promise<string> {
    const text = await page.locator('.monaco-editor .view-lines').first().innerText()
    return text.replace(/\u00a0/g, ' ')
}

/** Puts the cursor at LINE:COLUMN (1-based) of the editor. */
async function goTo(page: Page, line: number, column: number): Promise<void> {
    await page.locator('.monaco-editor .view-lines').first().click()
    await page.keyboard.press('Control+G')
    await page.keyboard.type(`${line}:${column}`)
    await page.keyboard.press('Enter')
}

/** The text of every frame that looks like Lean's infoview (a webview, frames inside frames). */
async function infoviewText(page: Page): Promise<string> {
    let text = ''
    for (const frame of page.frames()) {
        const body = await frame.locator('body').innerText({ timeout: 1_000 }).catch(() => '')
        if (/Tactic state|All Messages|Expected type/.test(body)) {
            text += body + '\n'
        }
    }
    return text
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
        if (await probe().catch(() => false)) {
            return
        }
        await new Promise(resolve => setTimeout(resolve, 200))
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

async function main(): Promise<void> {
    fs.mkdirSync(env.output, { recursive: true })
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sorryfill-vscode-e2e-'))
    const fixture = makeFixture(root)
    const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        ...leanSimEnv(root, fixture.project),
        HOME: fixture.home,
        XDG_CONFIG_HOME: path.join(fixture.home, '.config'),
        XDG_CACHE_HOME: path.join(fixture.home, '.cache'),
        XDG_DATA_HOME: path.join(fixture.home, '.local', 'share'),
        PATH: [env.node24Bin, fixture.tools, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    }
    delete childEnv.SORRYFILL
    const codeServerArgs = ['--user-data-dir', fixture.userData, '--extensions-dir', fixture.extensions]
    for (const vsix of [evenBetterTomlStandIn(root), env.lean4Vsix, env.sorryfillVsix]) {
        execFileSync(env.codeServer, [...codeServerArgs, '--install-extension', vsix], {
            env: childEnv,
            stdio: ['ignore', 'pipe', 'pipe'],
        })
    }
    const port = await freePort()
    const serverLog = fs.openSync(path.join(env.output, 'code-server.log'), 'w')
    const server: ChildProcess = spawn(
        env.codeServer,
        [...codeServerArgs, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
            '--disable-workspace-trust', '--disable-getting-started-override', fixture.project],
        { env: childEnv, stdio: ['ignore', serverLog, serverLog], detached: true },
    )
    // code-server runs in its own process group with everything it starts (the extension host,
    // sorryfill, lean-sim): end the group however this script ends.
    const stopServer = () => {
        if (server.pid) {
            try {
                process.kill(-server.pid, 'SIGTERM')
            } catch {
                // Already gone.
            }
        }
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.once(signal, () => {
            stopServer()
            process.exit(1)
        })
    }
    const browser = await chromium.launch({ executablePath: env.chromium, args: ['--no-sandbox'] })
    try {
        await scenario(await browser.newPage({ viewport: { width: 1400, height: 900 } }), port, fixture.project)
    } finally {
        await browser.close().catch(() => undefined)
        stopServer()
        // sorryfill's own log, for whoever reads a failure.
        const logs = path.join(fixture.home, '.cache', 'sorryfill')
        if (fs.existsSync(logs)) {
            fs.cpSync(logs, path.join(env.output, 'sorryfill-cache'), { recursive: true })
        }
        fs.cpSync(path.join(fixture.project, 'Demo.lean'), path.join(env.output, 'Demo.lean.final'))
        fs.writeFileSync(path.join(env.output, 'lean-sim.log'), leanSimLog(fixture.project))
        // Give the server group a moment to go before its folder does.
        await new Promise(resolve => setTimeout(resolve, 1_000))
        fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 })
    }
}

/** Runs in the page before VS Code loads: records every text sorryfill's status bar item
 * shows, as the DOM changes, so a state that lasts less than a poll is not missed on a busy
 * machine. */
const STATUS_RECORDER = `
    window.__sorryfillStatus = []
    new MutationObserver(() => {
        for (const item of document.querySelectorAll('.statusbar-item')) {
            const text = (item.innerText || '').trim()
            const seen = window.__sorryfillStatus
            if (text.includes('sorryfill') && seen[seen.length - 1] !== text) {
                seen.push(text)
            }
        }
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true })
`

async function scenario(page: Page, port: number, project: string): Promise<void> {
    await page.addInitScript(STATUS_RECORDER)
    const statusItem = page.locator('.statusbar-item', { hasText: 'sorryfill' }).first()
    const statusTexts = new Set<string>()
    const recordStatus = async () => {
        const recorded = (await page.evaluate('window.__sorryfillStatus || []').catch(() => [])) as string[]
        for (const text of recorded) {
            statusTexts.add(text)
        }
    }
    const poller = setInterval(() => void recordStatus(), 150)

    try {
        const opened = await check('VS Code opens the Lake project', async () => {
            await waitFor('code-server to listen', 60_000, () => canConnect(port))
            await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(project)}`)
            await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 })
            await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60_000 })
        }, page)
        if (!opened) {
            return
        }

        await check('the Lean file opens', async () => {
            await page.locator('.explorer-viewlet .monaco-list-row', { hasText: 'Demo.lean' }).first().dblclick()
            await waitFor('the editor to show the file', 30_000, async () => (await editorText(page)).includes('zero_add'))
        }, page)

        await check('sorryfill asks once where to put its wrapper, and the answer is taken', async () => {
            const toast = page.locator('.notification-toast', { hasText: 'sorryfill can fill' })
            await toast.waitFor({ timeout: 60_000 })
            await toast.locator('.monaco-button', { hasText: 'This workspace' }).click()
            const settings = path.join(project, '.vscode', 'settings.json')
            await waitFor('lean4.envPathExtensions in the workspace settings', 15_000, async () =>
                fs.existsSync(settings) && fs.readFileSync(settings, 'utf8').includes('envPathExtensions'),
            )
        }, page)

        await check("Lean's sorry warnings arrive through sorryfill", async () => {
            await page.keyboard.press('Control+Shift+M')
            const problems = page.locator('.markers-panel')
            await waitFor('two sorry warnings in the Problems panel', 60_000, async () => {
                const text = await problems.innerText({ timeout: 500 })
                return (text.match(/declaration uses 'sorry'/g) ?? []).length >= 2
            })
            await waitFor('lean-sim to log the file', 5_000, async () => leanSimLog(project).includes('Demo.lean'))
        }, page)

        await check("the infoview shows the hole's goal, without an error", async () => {
            let text = ''
            let tries = 0
            await waitFor('the goal in the infoview', 30_000, async () => {
                // The infoview follows the cursor once it is loaded: move it again now and then.
                if (tries++ % 10 === 0) {
                    await goTo(page, 1, 1)
                    await goTo(page, 2, 3 + (tries % 2))
                }
                text = await infoviewText(page)
                return /Tactic state/.test(text) && /x\s*:\s*Nat\s*⊢\s*x \+ 0 = x/.test(text)
            }).catch(e => {
                throw new Error(`${e instanceof Error ? e.message : e}; the infoview shows: ${JSON.stringify(text.slice(0, 300))}`)
            })
            if (/Error/.test(text)) {
                throw new Error(`the infoview shows an error: ${JSON.stringify(text.slice(0, 300))}`)
            }
        }, page)

        await check('the status bar shows sorryfill proving and then proofs ready', async () => {
            await waitFor('"proofs ready" in the status bar', 90_000, async () => {
                await recordStatus()
                return [...statusTexts].some(t => /proofs? ready/.test(t))
            })
            const seen = [...statusTexts]
            console.log(`status texts seen: ${JSON.stringify(seen)}`)
            if (!seen.some(t => /sorryfill \d+\/\d+/.test(t))) {
                throw new Error(`no progress shown: ${JSON.stringify(seen)}`)
            }
        }, page)

        await check("sorryfill's quick fix is in the lightbulb menu at the first hole", async () => {
            await goTo(page, 2, 4)
            // The lightbulb menu: Ctrl+. (retried: the first press may come before the editor
            // has the code actions), then the lightbulb itself.
            const menu = page.locator('.action-widget', { hasText: 'Lean-checked proof' })
            await waitFor('the quick fix menu with sorryfill\'s proof', 30_000, async () => {
                if (await menu.isVisible()) {
                    return true
                }
                await page.keyboard.press('Escape')
                const bulb = page.locator('.lightBulbWidget').first()
                if (await bulb.isVisible()) {
                    await bulb.click()
                } else {
                    await page.keyboard.press('Control+.')
                }
                return menu.waitFor({ timeout: 3_000 }).then(
                    () => true,
                    () => false,
                )
            })
        }, page)

        await check('applying it writes the verified proof', async () => {
            await page.locator('.action-widget .monaco-list-row', { hasText: 'Lean-checked proof' }).first().click()
            await waitFor('the proof in place of the first sorry', 15_000, async () => {
                const text = await editorText(page)
                return /x \+ 0 = x := by\s+simp_arith/.test(text) && /0 \+ x = x := by\s+sorry/.test(text)
            })
        }, page)

        await check('saving with on-save enabled fills the other hole by itself', async () => {
            // The other hole's proof is checked again for the edited version before it is applied.
            await waitFor('a proof ready for the edited version', 60_000, async () =>
                /proofs? ready/.test(await statusItem.innerText({ timeout: 500 })),
            )
            await page.keyboard.press('Control+S')
            await waitFor('the second proof in the editor', 30_000, async () =>
                /0 \+ x = x := by\s+simp_arith/.test(await editorText(page)),
            )
            await page.keyboard.press('Control+S')
            await waitFor('both proofs on disk', 15_000, async () => {
                const disk = fs.readFileSync(path.join(project, 'Demo.lean'), 'utf8')
                return disk === SOURCE.replace(/sorry/g, 'simp_arith')
            })
        }, page)

    } finally {
        clearInterval(poller)
    }
}

main()
    .catch(e => {
        results.push({ name: 'the test ran to the end', ok: false, detail: String(e) })
        console.log(`FAILED: ${e instanceof Error ? e.stack : e}`)
    })
    .finally(() => {
        const passed = results.filter(r => r.ok).length
        const failed = results.length - passed
        console.log(`screenshots and logs: ${env.output}`)
        console.log(`${passed} passed, ${failed} failed`)
        process.exit(failed === 0 ? 0 : 1)
    })
