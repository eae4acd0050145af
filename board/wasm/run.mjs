// Runs the board's cases in the wasm build under node and prints the same frames the
// firmware prints over semihosting. Usage: node run.mjs path/to/memplay_board_wasm.wasm
// Exit status 0 iff every case passed.
import { readFileSync } from "node:fs";

const bytes = readFileSync(process.argv[2]);
const { instance } = await WebAssembly.instantiate(bytes, {});
const { run_all, out_ptr, out_len, memory } = instance.exports;
const ok = run_all();
const text = new TextDecoder("utf-8", { fatal: true }).decode(
  new Uint8Array(memory.buffer, out_ptr(), out_len()),
);
process.stdout.write(text);
process.exitCode = ok === 1 ? 0 : 1;
