// Ask pi's own SettingsManager (dist/core/settings-manager.js of pi 1.6.0) for the installation id.
//
//   node pi_settings.mjs AGENT_DIR
//
// Prints one JSON line: {"deviceId": pi's getOrCreateDeviceId(), "errors": [...]} after flushing
// any write pi made (it writes settings.json only when it had to create the id).
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const core = dirname(process.env.PI_AUTH_STORAGE);
const { SettingsManager } = await import(pathToFileURL(join(core, "settings-manager.js")).href);

const agentDir = process.argv[2];
const manager = SettingsManager.create(agentDir, agentDir);
const deviceId = manager.getOrCreateDeviceId();
await manager.flush();
const errors = (manager.drainErrors?.() ?? []).map((e) => String(e.error?.message ?? e));
process.stdout.write(`${JSON.stringify({ deviceId, errors })}\n`);
