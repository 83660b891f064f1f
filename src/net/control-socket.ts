/**
 * The local control socket of a running sync: a unix socket beside the pile (`notes.pile.sock`,
 * mode 0600, so only its owner can ask) over which `pile net status` and `pile net doctor` ask
 * the running node. One JSON request line, one JSON answer line, then the connection closes.
 * Requests are bounded (MAX_REQUEST_BYTES) and each connection lives at most REQUEST_TIMEOUT_MS.
 */
import { chmodSync, existsSync, statSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const MAX_REQUEST_BYTES = 4096;
export const MAX_ANSWER_BYTES = 4 << 20;
/** A request (a doctor run included) is answered within this, or the connection closes. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** Unix socket paths are limited to about 108 bytes; longer ones move to the temp directory. */
const MAX_SOCKET_PATH = 100;

/** Where the control socket of the pile at `pilePath` is (the pile must exist). */
export function controlSocketPath(pilePath: string): string {
  const beside = `${resolve(pilePath)}.sock`;
  if (Buffer.byteLength(beside) <= MAX_SOCKET_PATH) return beside;
  const { dev, ino } = statSync(pilePath);
  return join(tmpdir(), `tribles-sync-${dev}-${ino}.sock`);
}

/** No sync answers on that socket. */
export class NoSyncRunningError extends Error {
  constructor(readonly socketPath: string) {
    super(`no sync is running for this pile (nothing answers on ${socketPath}); start one with \`tribles pile net sync PILE\``);
    this.name = "NoSyncRunningError";
  }
}

export type ControlHandler = (request: Record<string, unknown>) => Promise<unknown>;

/** A running control socket; `close` removes it. */
export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
    private readonly sockets: Set<Socket>,
  ) {}

  /**
   * Listens on `path`, answering `{"op": NAME, …}` with `handlers[NAME]`. A socket file left by a
   * process that ended is replaced; one that answers belongs to a live sync and is an error.
   */
  static async start(path: string, handlers: Record<string, ControlHandler>): Promise<ControlServer> {
    if (existsSync(path)) {
      if (await answers(path)) throw new Error(`${path}: another sync answers on this control socket`);
      unlinkSync(path);
    }
    const sockets = new Set<Socket>();
    const server = createServer((socket) => serve(socket, handlers, sockets));
    // Created 0600 from the start (umask), not chmod'ed after others could connect.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((done, fail) => {
        server.once("error", fail);
        server.listen(path, () => {
          server.off("error", fail);
          done();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    return new ControlServer(server, path, sockets);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((done) => this.server.close(() => done()));
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

function serve(socket: Socket, handlers: Record<string, ControlHandler>, sockets: Set<Socket>): void {
  sockets.add(socket);
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => socket.destroy());
  let buffered = "";
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    if (buffered.length > MAX_REQUEST_BYTES) return answer({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
    const nl = buffered.indexOf("\n");
    if (nl < 0) return;
    socket.off("data", onData);
    let request: Record<string, unknown>;
    try {
      const parsed = JSON.parse(buffered.slice(0, nl));
      if (typeof parsed !== "object" || parsed === null || typeof parsed.op !== "string") throw new Error("expected {\"op\": …}");
      request = parsed;
    } catch (err) {
      return answer({ ok: false, error: `bad request: ${(err as Error).message}` });
    }
    const handler = Object.hasOwn(handlers, request.op as string) ? handlers[request.op as string] : undefined;
    if (!handler) return answer({ ok: false, error: `unknown op ${JSON.stringify(request.op)}` });
    handler(request).then(
      (result) => answer({ ok: true, result }),
      (err: unknown) => answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  };
  const answer = (reply: unknown) => {
    if (!socket.destroyed) socket.end(`${JSON.stringify(reply)}\n`);
  };
  socket.on("data", onData);
}

/** Whether something answers a connection on `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

/**
 * Asks the sync behind `path`: sends `request`, returns its answer's result. NoSyncRunningError
 * when nothing listens there; the handler's error message otherwise.
 */
export function askControl(path: string, request: Record<string, unknown>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  return new Promise((done, fail) => {
    const socket = createConnection(path);
    let buffered = "";
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`the sync on ${path} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      if (buffered.length > MAX_ANSWER_BYTES) socket.destroy(new Error(`answer longer than ${MAX_ANSWER_BYTES} bytes`));
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && (err.code === "ENOENT" || err.code === "ECONNREFUSED")) fail(new NoSyncRunningError(path));
      else fail(err);
    });
    socket.once("end", () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(buffered) as { ok?: unknown; result?: unknown; error?: unknown };
        if (reply.ok === true) done(reply.result);
        else fail(new Error(typeof reply.error === "string" ? reply.error : "the sync answered with an error"));
      } catch {
        fail(new Error(`the sync on ${path} gave an unreadable answer`));
      }
    });
  });
}
