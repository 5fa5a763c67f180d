import { spawn } from "node:child_process";

/** What a child Node process printed and how it ended. */
export interface NodeRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file` with this Node (and its `nodeArgs`) and `args` (extra `env` on top of this process's), collecting its output. */
export function runNode(file: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, file, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
