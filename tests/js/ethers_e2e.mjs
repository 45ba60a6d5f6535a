// Drives an aievm node with ethers.js v6 (node_modules/ethers): run by tests/test_node_ethers.py.
// usage: node ethers_e2e.mjs RPC_URL SPEC.json
// SPEC: {counter: {abi, bytecode}, ai?: {abi, bytecode, model, input, outputSize}}
// Prints one JSON object with what it observed; exits non-zero on any failure.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const { ethers } = require("ethers");

const [url, specPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
provider.pollingInterval = 50;
// cacheTimeout -1: ethers otherwise reuses an identical eth_getTransactionCount answer for 250 ms,
// stale on a chain that mines each transaction instantly.
const DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const wallet = new ethers.Wallet(DEV_KEY_0, provider);
const out = {};

const network = await provider.getNetwork();
out.chainId = Number(network.chainId);
out.blockNumberBefore = await provider.getBlockNumber();

// a plain EIP-1559 transfer
const to = ethers.Wallet.createRandom().address;
const transfer = await wallet.sendTransaction({ to, value: ethers.parseEther("1.5") });
const transferReceipt = await transfer.wait();
out.transfer = {
  status: transferReceipt.status,
  gasUsed: Number(transferReceipt.gasUsed),
  type: transfer.type,
  balance: (await provider.getBalance(to)).toString(),
};

// deploy, transact, read events and logs
const factory = new ethers.ContractFactory(spec.counter.abi, spec.counter.bytecode, wallet);
const counter = await factory.deploy();
await counter.waitForDeployment();
const bump = await counter.bump(11);
const bumpReceipt = await bump.wait();
const parsed = bumpReceipt.logs.map((log) => counter.interface.parseLog(log));
out.counter = {
  address: await counter.getAddress(),
  count: Number(await counter.count()),
  event: parsed[0].name,
  eventAmount: Number(parsed[0].args.amount),
  logs: (await counter.queryFilter(counter.filters.Bumped(), 0, "latest")).length,
};
try {
  await counter.bump.staticCall(1000);
  out.counter.revert = "none";
} catch (err) {
  out.counter.revert = err.revert ? err.revert.name : err.code;
  out.counter.revertArg = err.revert ? Number(err.revert.args[0]) : null;
}

if (spec.ai) {
  const aiFactory = new ethers.ContractFactory(spec.ai.abi, spec.ai.bytecode, wallet);
  const ai = await aiFactory.deploy();
  await ai.waitForDeployment();
  const output = await ai.modelInfer(spec.ai.model, spec.ai.input, spec.ai.outputSize);
  const gas = await ai.modelInfer.estimateGas(spec.ai.model, spec.ai.input, spec.ai.outputSize);
  out.ai = { output, gas: Number(gas) };
}

out.blockNumberAfter = await provider.getBlockNumber();
console.log(JSON.stringify(out));
provider.destroy();
