// pi's own refresh of a stored OAuth login, with pi 1.6.0's store class, against a loopback fake.
//
//   node pi_refresh.mjs --path AUTH_JSON --provider P --token-url URL --client-id ID [--delay-ms N]
//
// What pi does when a request finds its token due (pi-ai's refreshStoredOAuthCredential):
// AuthStorage.modify(P, current => …) takes pi's lock, re-reads the file, and refreshes the
// entry it finds there only if that entry is still due (now + 5 min >= expires); the answer
// replaces the whole entry, written in place under the lock. pi has no setting for its token
// URL, so the refresh request itself (Anthropic's JSON refresh grant) is made here, to the fake.
//
// Events, one JSON line each on stdout: "done" {refreshed, from, to} (refresh tokens, for the
// test to follow a rotation), or "error" {message} with exit code 1.
import { request } from "node:http";
import { pathToFileURL } from "node:url";

const { AuthStorage } = await import(pathToFileURL(process.env.PI_AUTH_STORAGE).href);
const MINIMUM_VALIDITY_MS = 5 * 60 * 1000;

function emit(event, fields = {}) {
	process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function options(argv) {
	const out = {};
	for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
	return out;
}

function postJson(url, body) {
	return new Promise((resolve, reject) => {
		const data = JSON.stringify(body);
		const req = request(
			url,
			{
				method: "POST",
				headers: {
					"content-type": "application/json",
					accept: "application/json",
					"content-length": Buffer.byteLength(data),
				},
			},
			(res) => {
				let text = "";
				res.setEncoding("utf8");
				res.on("data", (chunk) => {
					text += chunk;
				});
				res.on("end", () => {
					try {
						resolve({ status: res.statusCode, body: JSON.parse(text) });
					} catch (error) {
						reject(error);
					}
				});
			},
		);
		req.on("error", reject);
		req.end(data);
	});
}

const opts = options(process.argv.slice(2));
try {
	if (opts["delay-ms"]) await new Promise((resolve) => setTimeout(resolve, Number(opts["delay-ms"])));
	const store = AuthStorage.create(opts.path);
	let rotation = null;
	await store.modify(opts.provider, async (current) => {
		if (current?.type !== "oauth") return undefined; // logged out meanwhile
		if (Date.now() + MINIMUM_VALIDITY_MS < current.expires) return undefined; // refreshed by another
		const answer = await postJson(opts["token-url"], {
			grant_type: "refresh_token",
			client_id: opts["client-id"],
			refresh_token: current.refresh,
		});
		if (answer.status !== 200 || typeof answer.body.access_token !== "string") {
			throw new Error(`refresh refused: HTTP ${answer.status} ${answer.body.error ?? ""}`);
		}
		rotation = { from: current.refresh, to: answer.body.refresh_token };
		return {
			type: "oauth",
			refresh: answer.body.refresh_token,
			access: answer.body.access_token,
			expires: Date.now() + answer.body.expires_in * 1000 - MINIMUM_VALIDITY_MS,
		};
	});
	emit("done", { refreshed: rotation !== null, ...(rotation ?? {}) });
} catch (error) {
	emit("error", { message: String(error?.message ?? error) });
	process.exitCode = 1;
}
