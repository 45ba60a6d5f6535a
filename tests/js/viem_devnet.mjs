// Drives an aievm node with a viem test client (mode "anvil") and public client over HTTP:
// run by tests/test_node_viem.py.  usage: node viem_devnet.mjs RPC_URL SPEC.json
// SPEC: {counter: {abi, bytecode}}. Prints one JSON object with what it observed; exits non-zero on failure.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const viem = require("viem");
const { foundry } = require("viem/chains");

const [url, specPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const transport = viem.http(url);
const test = viem.createTestClient({ mode: "anvil", chain: foundry, transport, pollingInterval: 50 });
const pub = viem.createPublicClient({ chain: foundry, transport, pollingInterval: 50, cacheTime: 0 });
const wallet = viem.createWalletClient({ chain: foundry, transport });
const out = {};
const [alice] = await wallet.getAddresses();

// mine and setNextBlockTimestamp
const start = await pub.getBlockNumber();
await test.mine({ blocks: 3 });
out.mined = Number((await pub.getBlockNumber()) - start);
const latest = await pub.getBlock();
const target = latest.timestamp + 1000n;
await test.setNextBlockTimestamp({ timestamp: target });
await test.mine({ blocks: 1 });
out.timestampSet = (await pub.getBlock()).timestamp === target;

// impersonateAccount: send as an address without its key
const whale = "0x000000000000000000000000000000000000bEEF";
await test.setBalance({ address: whale, value: viem.parseEther("5") });
await test.impersonateAccount({ address: whale });
const sent = await wallet.sendTransaction({ account: whale, to: alice, value: viem.parseEther("1") });
const receipt = await pub.waitForTransactionReceipt({ hash: sent });
out.impersonatedFrom = receipt.from.toLowerCase() === whale.toLowerCase();
await test.stopImpersonatingAccount({ address: whale });

// watchContractEvent (polling filters over HTTP) and getLogs
const deployHash = await wallet.deployContract({ abi: spec.counter.abi, bytecode: spec.counter.bytecode, account: alice });
const counter = (await pub.waitForTransactionReceipt({ hash: deployHash })).contractAddress;
const seen = [];
const unwatch = pub.watchContractEvent({
  address: counter, abi: spec.counter.abi, eventName: "Bumped", poll: true,
  onLogs: (logs) => seen.push(...logs.map((l) => Number(l.args.amount))),
});
const bump = async (amount) => {
  const hash = await wallet.writeContract({ address: counter, abi: spec.counter.abi, functionName: "bump", args: [amount], account: alice });
  await pub.waitForTransactionReceipt({ hash });
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// the watcher installs its filter on its first poll: bump 2 until it reports one, then bump 5 once
let bumps = 0;
while (seen.length === 0 && bumps < 100) { await bump(2n); bumps++; await sleep(100); }
await bump(5n);
for (let i = 0; i < 100 && seen.at(-1) !== 5; i++) await sleep(50);
unwatch();
out.watched = seen; // the first bumps of 2 may predate the filter, the 5 may not
const bumped = viem.getAbiItem({ abi: spec.counter.abi, name: "Bumped" });
const logs = await pub.getLogs({ address: counter, event: bumped, fromBlock: 0n, toBlock: "latest" });
out.logs = logs.map((l) => Number(l.args.amount));
out.logsExpected = JSON.stringify(out.logs) === JSON.stringify([...Array(bumps).fill(2), 5]);
console.log(JSON.stringify(out));
