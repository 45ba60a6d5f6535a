// A stock Hardhat 2 project run against the aievm devnet by tests/test_hardhat.py:
//   AIEVM_RPC_URL=http://127.0.0.1:8545 npx hardhat test --network aievm --config tests/hardhat/hardhat.config.js
// Its compiler is the npm `solc` build in node_modules (Hardhat cannot download one here), and its
// root is the repository so that contracts can import solidity_patch/AIPrecompile.sol.
const path = require("node:path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-ethers");

const SOLC_VERSION = "0.8.30";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`only solc ${SOLC_VERSION} (npm solc in node_modules) is available, not ${args.solcVersion}`);
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version().replace(/\.Emscripten\.clang$/, ""),
  };
});

const out = process.env.AIEVM_HARDHAT_OUT || path.join(__dirname, "out");

module.exports = {
  solidity: { version: SOLC_VERSION, settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 } } },
  defaultNetwork: "aievm",
  networks: {
    aievm: { url: process.env.AIEVM_RPC_URL || "http://127.0.0.1:8545", timeout: 120000 },
  },
  paths: {
    root: path.join(__dirname, "..", ".."),
    sources: path.join(__dirname, "contracts"),
    tests: path.join(__dirname, "test"),
    cache: path.join(out, "cache"),
    artifacts: path.join(out, "artifacts"),
  },
  mocha: { timeout: 120000 },
};
