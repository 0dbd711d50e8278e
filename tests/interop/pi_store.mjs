// Drive pi's own credential store (dist/core/auth-storage.js of pi 1.6.0) for the interop tests.
//
//   node pi_store.mjs COMMAND --path AUTH_JSON [options]
//
// pi's module is imported from $PI_AUTH_STORAGE (a path). Every event is one JSON line on stdout:
// {"event": NAME, ...}. Errors are {"event": "error", "code", "message"} and exit code 1.
//
// Commands
//   hold  --mode sync|async --provider P --entry JSON
//         Take pi's lock (FileAuthStorageBackend.withLock or .withLockAsync), say "locked" with
//         what pi read, wait for one line on stdin, then write P's entry merged into what it read
//         (as AuthStorage.modify does) and release; then say "released".
//   put   --mode sync|async --provider P --entry JSON
//         One write of P's entry, saying "done" with what pi read under the lock: async is
//         withLockAsync (waits up to 30 s), sync is one withLock (10 tries 20 ms apart, then
//         ELOCKED).
//   put-retry --provider P --entry JSON [--deadline-ms N]
//         pi's synchronous path again and again until it gets the lock (or the deadline): says
//         "waiting" after the first refusal, then "done" with the number of refusals, the oldest
//         lock directory it saw (ms) and what it read under the lock.
//   writer --count N --prefix X [--pause-ms N]
//         N writes of entries X0..X(N-1), alternating AuthStorage.modify (pi's login and
//         refresh path) and withLock, each tried again after ELOCKED.
//
// The entry written by hold/put-retry goes in as read: {...current, [P]: entry}, 2-space JSON,
// in place (pi's writeFileSync truncates then writes), exactly like pi's own modify().
import { readSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const storage = await import(pathToFileURL(process.env.PI_AUTH_STORAGE).href);
const { AuthStorage, FileAuthStorageBackend } = storage;

function emit(event, fields = {}) {
	process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function options(argv) {
	const out = {};
	for (let i = 0; i < argv.length; i += 2) {
		if (!argv[i].startsWith("--")) throw new Error(`unexpected argument ${argv[i]}`);
		out[argv[i].slice(2)] = argv[i + 1];
	}
	return out;
}

function parse(content) {
	if (!content) return {};
	return JSON.parse(content.replace(/^\uFEFF/, ""));
}

function merged(content, provider, entry) {
	return JSON.stringify({ ...parse(content), [provider]: entry }, null, 2);
}

function sleepSync(ms) {
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readLineSync() {
	const buffer = Buffer.alloc(1);
	let line = "";
	while (true) {
		let n;
		try {
			n = readSync(0, buffer, 0, 1, null);
		} catch (error) {
			if (error.code === "EAGAIN") {
				sleepSync(10);
				continue;
			}
			throw error;
		}
		if (n === 0 || buffer[0] === 10) return line;
		line += buffer.toString("utf8");
	}
}

function readLineAsync() {
	return new Promise((resolve) => {
		const lines = createInterface({ input: process.stdin });
		lines.once("line", (line) => {
			lines.close();
			resolve(line);
		});
		lines.once("close", () => resolve(""));
	});
}

function lockAgeMs(path) {
	try {
		return Date.now() - statSync(`${path}.lock`).mtimeMs;
	} catch {
		return null;
	}
}

async function hold(opts) {
	const backend = new FileAuthStorageBackend(opts.path);
	const entry = JSON.parse(opts.entry);
	if (opts.mode === "sync") {
		backend.withLock((current) => {
			emit("locked", { current: parse(current) });
			readLineSync();
			return { result: undefined, next: merged(current, opts.provider, entry) };
		});
	} else {
		// withLockAsync throws if proper-lockfile found the lock taken from it meanwhile.
		await backend.withLockAsync(async (current) => {
			emit("locked", { current: parse(current) });
			await readLineAsync();
			return { result: undefined, next: merged(current, opts.provider, entry) };
		});
	}
	emit("released");
}

async function put(opts) {
	const backend = new FileAuthStorageBackend(opts.path);
	const entry = JSON.parse(opts.entry);
	const write = (current) => ({ result: parse(current), next: merged(current, opts.provider, entry) });
	const seen = opts.mode === "sync" ? backend.withLock(write) : await backend.withLockAsync(async (c) => write(c));
	emit("done", { seen });
}

function putRetry(opts) {
	const backend = new FileAuthStorageBackend(opts.path);
	const entry = JSON.parse(opts.entry);
	const deadline = Date.now() + Number(opts["deadline-ms"] ?? 60_000);
	let refusals = 0;
	let oldestLockMs = null;
	while (true) {
		const age = lockAgeMs(backend.authPath);
		if (age !== null && (oldestLockMs === null || age > oldestLockMs)) oldestLockMs = age;
		try {
			const seen = backend.withLock((current) => ({
				result: parse(current),
				next: merged(current, opts.provider, entry),
			}));
			emit("done", { refusals, oldestLockMs, seen });
			return;
		} catch (error) {
			if (error.code !== "ELOCKED" || Date.now() > deadline) throw error;
			if (refusals++ === 0) emit("waiting");
			sleepSync(50);
		}
	}
}

async function writer(opts) {
	const count = Number(opts.count);
	const pause = Number(opts["pause-ms"] ?? 0);
	const store = AuthStorage.create(opts.path);
	const backend = new FileAuthStorageBackend(opts.path);
	for (let i = 0; i < count; i++) {
		const provider = `${opts.prefix}${i}`;
		const entry = { type: "api_key", key: `key-${provider}` };
		// Both paths give up on a lock held too long (sync: ~200 ms; async: 30 s, which a SIGKILLed
		// holder's lock can outlast); pi reports that and its caller tries again later, as here.
		while (true) {
			try {
				if (i % 2 === 0) await store.modify(provider, async () => entry);
				else backend.withLock((current) => ({ result: undefined, next: merged(current, provider, entry) }));
				break;
			} catch (error) {
				if (error.code !== "ELOCKED") throw error;
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
		}
		emit("wrote", { provider });
		if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
	}
	emit("done", { count });
}

const commands = { hold, put, "put-retry": putRetry, writer };
const [command, ...rest] = process.argv.slice(2);
try {
	if (!commands[command]) throw new Error(`unknown command ${command}`);
	await commands[command](options(rest));
} catch (error) {
	emit("error", { code: error?.code ?? null, message: String(error?.message ?? error) });
	process.exitCode = 1;
}
