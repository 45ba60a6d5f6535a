// Hardhat Network (EthereumJS's EVM, no INFER) as a JSON-RPC node for tests/test_opml_hardhat.py:
//   npx hardhat node --config tests/hardhat/network.config.js --port 8546
// Cancun, automining, the standard test mnemonic (the same dev accounts as aievm node), 30M gas blocks.
module.exports = {
  networks: {
    hardhat: { hardfork: "cancun", chainId: 31337, blockGasLimit: 30_000_000, mining: { auto: true } },
  },
};
