// The wrapper folder put on `lean4.envPathExtensions`.
//
// The extension ships `bin/lake` (the repository's wrapper). Its install folder changes with
// every update, so the wrappers are written to a stable folder (the extension's global storage)
// and that folder goes on the setting: an update rewrites the files, never the user's setting.
// A `.vsix` keeps no symlinks, so `lean` is written as a copy of `lake` (the wrapper decides by
// its own name).

import * as fs from 'fs'
import * as path from 'path'

export const WRAPPED_TOOLS = ['lake', 'lean'] as const

/**
 * Writes `lake` and `lean` into `folder` from the bundled wrapper `source`; only files whose
 * content or mode differ are replaced, each through a rename so a server starting at that moment
 * never runs half a file. Returns the names written.
 */
export function writeWrappers(source: string, folder: string): string[] {
    const script = fs.readFileSync(source)
    fs.mkdirSync(folder, { recursive: true })
    const written: string[] = []
    for (const tool of WRAPPED_TOOLS) {
        const target = path.join(folder, tool)
        if (isSameExecutable(target, script)) {
            continue
        }
        const temporary = `${target}.${process.pid}.tmp`
        fs.writeFileSync(temporary, script, { mode: 0o755 })
        fs.chmodSync(temporary, 0o755)
        fs.renameSync(temporary, target)
        written.push(tool)
    }
    return written
}

function isSameExecutable(file: string, content: Buffer): boolean {
    try {
        const stat = fs.statSync(file)
        return (stat.mode & 0o111) === 0o111 && fs.readFileSync(file).equals(content)
    } catch {
        return false
    }
}

/** `entries` with `folder` first (the wrapper must come before the real `lake`), once. */
export function withWrapperFolder(entries: readonly string[] | undefined, folder: string): string[] {
    return [folder, ...(entries ?? []).filter(entry => !sameFolder(entry, folder))]
}

/** `entries` without `folder`. */
export function withoutWrapperFolder(entries: readonly string[] | undefined, folder: string): string[] {
    return (entries ?? []).filter(entry => !sameFolder(entry, folder))
}

export function hasWrapperFolder(entries: readonly string[] | undefined, folder: string): boolean {
    return (entries ?? []).some(entry => sameFolder(entry, folder))
}

function sameFolder(a: string, b: string): boolean {
    return path.resolve(a) === path.resolve(b)
}
